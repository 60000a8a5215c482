import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS } from '../../functions/support/metrics.ts';
import { NEAR_LIMIT } from '../../lib/reconcile/spend-limits.ts';

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
 * a pod request dead-lettered, instances leaking, credentials refused, an agent credential
 * replayed or stolen, spend near a limit. Missing data is "not
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
    // Replay or theft of an agent credential (ADR 0021): the agent function counts each refusal
    // an honest agent never causes — a spent bootstrap token presented again, a token of another
    // pod, attempt or instance, a second bootstrap of one attempt, a key already the gateway's or
    // another peer's, a status credential not the current attempt's. Each is a host or a thief
    // holding a credential it should not, so one alarms.
    this.add('AgentAuthFailures', {
      metric: customMetric(METRICS.agentAuthFailures, 'Sum', Duration.minutes(5)),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription:
        'anex: an agent credential was refused in a way an honest agent never causes (replay or theft; see the agent log group: "agent credential refused")',
    });
    // A spend limit nearing its cap (ADR 0019): the tick's full pass writes SpendLimitUse (percent
    // of the most used limit) at 80% or more, nothing below, so the alarm recovers by itself.
    this.add('SpendLimitUse', {
      metric: customMetric(METRICS.spendLimitUse, 'Maximum', Duration.minutes(5)),
      threshold: NEAR_LIMIT * 100,
      evaluationPeriods: 1,
      alarmDescription:
        'anex: spend is at 80% or more of a limit the operator set (see the tick log group: "spend near a limit")',
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

function customMetric(
  metricName: string,
  statistic: string,
  period = Duration.minutes(1),
): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS.namespace, metricName, statistic, period });
}
