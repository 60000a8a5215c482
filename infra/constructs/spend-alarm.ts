import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS } from '../../functions/support/metrics.ts';
import { NEAR_LIMIT } from '../../lib/reconcile/spend-limits.ts';

export interface SpendAlarmProps {
  /**
   * SNS topic notified when the alarm fires and when it recovers. Unset: the alarm only shows
   * in the console.
   * @default undefined
   */
  readonly alarmTopicArn?: string;
}

/**
 * A spend limit nearing its cap (ADR 0019): each tick's full pass compares what is billing
 * with every limit the operator set (ANEX_MAX_INSTANCES, ANEX_MAX_SPEND_PER_HOUR,
 * ANEX_NAMESPACE_BUDGETS) and, at 80% or more of one, writes the `SpendLimitUse` metric (EMF:
 * percent of the most used limit; the tick logs which). One such tick alarms; the alarm
 * recovers when spend drops below 80% (no data is written then).
 */
export class SpendAlarm extends Construct {
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SpendAlarmProps = {}) {
    super(scope, id);
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      metric: new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName: METRICS.spendLimitUse,
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: NEAR_LIMIT * 100,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // Nothing is written below 80%: no data is the normal state.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'anex: spend is at 80% or more of a limit the operator set (see the tick log group: "spend near a limit")',
    });
    if (props.alarmTopicArn !== undefined) {
      const topic = sns.Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn);
      this.alarm.addAlarmAction(new actions.SnsAction(topic));
      this.alarm.addOkAction(new actions.SnsAction(topic));
    }
  }
}
