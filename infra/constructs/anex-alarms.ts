import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS } from '../../functions/support/metrics.ts';

export interface AnexAlarmsProps {
  /** Functions whose `Errors` metric gets an alarm each, by short name. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * SNS topic notified when an alarm fires and when it recovers. Unset: alarms only show in
   * the console (no topic is created, to keep the idle cost down).
   * @default undefined
   */
  readonly alarmTopicArn?: string;
  /**
   * Consecutive 1-minute periods with leaked instances before alarming. The garbage-collection
   * pass destroys a leaked instance on sight, so one period is normal after a crash; several
   * in a row mean destroy keeps failing while money is spent.
   * @default 3
   */
  readonly leakedInstancePeriods?: number;
}

/**
 * The few alarms worth waking someone for (each costs $0.10/month): a function failing,
 * a pod request dead-lettered, instances leaking, credentials refused. Missing data is "not
 * breaching": an idle deployment is healthy.
 */
export class AnexAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AnexAlarmsProps) {
    super(scope, id);
    for (const [name, fn] of Object.entries(props.functions)) {
      this.add(`${name}Errors`, {
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `anex ${name}: the function failed (see its log group for the error)`,
      });
    }
    this.add('DeadLetters', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription: 'anex: per-pod pass requests failed repeatedly and were dead-lettered',
    });
    this.add('LeakedInstances', {
      metric: customMetric(METRICS.leakedInstances, 'Maximum'),
      threshold: 1,
      evaluationPeriods: props.leakedInstancePeriods ?? 3,
      alarmDescription: 'anex: rented instances without a live pod keep being found (money is being spent)',
    });
    this.add('AuthFailures', {
      metric: customMetric(METRICS.authFailures, 'Sum'),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription: 'anex: a provider, the Kubernetes API server or a webhook caller was refused',
    });
    if (props.alarmTopicArn !== undefined) {
      const topic = sns.Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(new actions.SnsAction(topic));
        alarm.addOkAction(new actions.SnsAction(topic));
      }
    }
  }

  private add(
    id: string,
    options: Omit<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'>,
  ): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        ...options,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

function customMetric(metricName: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS.namespace,
    metricName,
    statistic,
    period: Duration.minutes(1),
  });
}
