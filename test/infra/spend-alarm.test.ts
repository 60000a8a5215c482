import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { emfDocument, METRICS } from '../../functions/support/metrics.ts';
import { SpendAlarm } from '../../infra/constructs/spend-alarm.ts';
import { resourcesOf, synthStack } from './stack-fixture.ts';

// ADR 0019: a spend limit at 80% or more of its cap is a metric the tick writes (EMF, percent
// of the most used limit) and an alarm on it, notified like the stack's other alarms.

function alarmsOn(template: Template) {
  return Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
    (a) => a.Properties.MetricName === METRICS.spendLimitUse,
  );
}

describe('SpendAlarm', () => {
  it('alarms when one tick in five minutes saw a limit at 80% or more, missing data not breaching', () => {
    const stack = new Stack(new App(), 'T');
    new SpendAlarm(stack, 'A');
    const alarms = alarmsOn(Template.fromStack(stack));
    expect(alarms.map((a) => a.Properties)).toEqual([
      expect.objectContaining({
        Namespace: METRICS.namespace,
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 80,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('is part of the stack and notifies the alarm topic when one is configured', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    expect(alarmsOn(synthStack().template)).toHaveLength(1);
    const [alarm] = alarmsOn(synthStack({ 'anex:alarmTopicArn': topicArn }).template);
    expect([alarm?.Properties.AlarmActions, alarm?.Properties.OKActions]).toEqual([[topicArn], [topicArn]]);
  });

  it('watches the very metric the tick writes (undimensioned, as the EMF document says)', () => {
    const doc = emfDocument({
      name: METRICS.spendLimitUse,
      value: 85,
      properties: {},
      now: 0,
    }) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } };
    const [directive] = doc._aws.CloudWatchMetrics;
    const [alarm] = alarmsOn(synthStack().template);
    expect([directive?.Namespace, directive?.Dimensions, alarm?.Properties.Dimensions]).toEqual([
      METRICS.namespace,
      [[]],
      undefined,
    ]);
  });
});
