import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';

export interface TickScheduleProps {
  readonly target: lambda.IFunction;
  /**
   * Whether the schedule runs. Disable it to pause anex without deleting anything (pods stay
   * where they are; nothing is rented or destroyed until it is enabled again).
   * @default true
   */
  readonly enabled?: boolean;
}

/**
 * EventBridge Scheduler, rate(1 minute) → tick. A missed tick is not retried: the next one
 * a minute later does the same work, and a late retry would only overlap it. 43,200
 * invocations a month stay inside the Scheduler free tier (14 million).
 */
export class TickSchedule extends Construct {
  readonly schedule: scheduler.Schedule;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: TickScheduleProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler: invoke the anex tick function only',
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'anex tick: node heartbeat + full reconcile pass',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target: new targets.LambdaInvoke(props.target, {
        role: this.role,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
      enabled: props.enabled ?? true,
    });
    const functionLogicalId = Stack.of(this).getLogicalId(
      props.target.node.defaultChild as lambda.CfnFunction,
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
      reason:
        'Added by the Scheduler LambdaInvoke target: InvokeFunction on the tick function and its versions ' +
        '(`<arn>:*`). The wildcard covers qualifiers of this one function only.',
    });
  }
}
