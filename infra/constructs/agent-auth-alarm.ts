import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS } from '../../functions/support/metrics.ts';

export interface AgentAuthAlarmProps {
  /**
   * SNS topic notified when the alarm fires and when it recovers. Unset: the alarm only shows
   * in the console.
   * @default undefined
   */
  readonly alarmTopicArn?: string;
}

/**
 * Replay or theft of an agent credential (ADR 0021): the agent function counts each refusal an
 * honest agent never causes — a spent bootstrap token presented again, a token of another pod,
 * attempt or instance, a second bootstrap of one attempt, a key already the gateway's or
 * another peer's, a status credential that is not the current attempt's — as the
 * `AgentAuthFailures` metric (EMF, the refusal's reason and pod logged with the data point).
 * One in five minutes alarms: each is a host or a thief holding a credential it should not.
 */
export class AgentAuthAlarm extends Construct {
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AgentAuthAlarmProps = {}) {
    super(scope, id);
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      metric: new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName: METRICS.agentAuthFailures,
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No refusals is the normal state of an idle or honest deployment.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'anex agent endpoint: an agent credential was replayed or stolen (see the agent log group: "agent credential refused" with alarm true)',
    });
    if (props.alarmTopicArn !== undefined) {
      const topic = sns.Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn);
      this.alarm.addAlarmAction(new actions.SnsAction(topic));
      this.alarm.addOkAction(new actions.SnsAction(topic));
    }
  }
}
