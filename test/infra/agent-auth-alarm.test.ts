import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { emfDocument, METRICS } from '../../functions/support/metrics.ts';
import { AgentAuthAlarm } from '../../infra/constructs/agent-auth-alarm.ts';
import { resourcesOf, synthStack } from './stack-fixture.ts';

// ADR 0021: replay or theft of an agent credential is a metric the agent function writes (EMF)
// and an alarm on it, notified like the stack's other alarms.

function alarmsOn(template: Template) {
  return Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
    (a) => a.Properties.MetricName === METRICS.agentAuthFailures,
  );
}

describe('AgentAuthAlarm', () => {
  it('alarms on one AgentAuthFailures in five minutes, missing data not breaching', () => {
    const stack = new Stack(new App(), 'T');
    new AgentAuthAlarm(stack, 'A');
    const alarms = alarmsOn(Template.fromStack(stack));
    expect(alarms.map((a) => a.Properties)).toEqual([
      expect.objectContaining({
        Namespace: METRICS.namespace,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
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

  it('watches the very metric the agent function writes (undimensioned, as the EMF document says)', () => {
    const doc = emfDocument({
      name: METRICS.agentAuthFailures,
      value: 1,
      properties: { reason: 'token-used', route: '/v1/bootstrap' },
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
