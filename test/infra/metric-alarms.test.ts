import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { emfDocument, METRICS, type MetricName } from '../../functions/support/metrics.ts';
import { AnexAlarms } from '../../infra/constructs/anex-alarms.ts';
import { resourcesOf, synthStack } from './stack-fixture.ts';

// The alarms on metrics the functions write as EMF lines: replay or theft of an agent
// credential (ADR 0021, the agent function) and spend near a limit (ADR 0019, the tick).
// Each watches the very metric its function writes, notified like the stack's other alarms.

const CASES: readonly {
  metric: MetricName;
  adr: string;
  statistic: string;
  threshold: number;
  written: { value: number; properties: Record<string, string> };
}[] = [
  {
    metric: METRICS.agentAuthFailures,
    adr: 'ADR 0021: one refusal an honest agent never causes',
    statistic: 'Sum',
    threshold: 1,
    written: { value: 1, properties: { reason: 'token-used', route: '/v1/bootstrap' } },
  },
  {
    metric: METRICS.spendLimitUse,
    adr: 'ADR 0019: a limit at 80% or more',
    statistic: 'Maximum',
    threshold: 80,
    written: { value: 85, properties: {} },
  },
];

function alarmsOn(template: Template, metric: MetricName) {
  return Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
    (a) => a.Properties.MetricName === metric,
  );
}

describe.each(CASES)('the $metric alarm ($adr)', ({ metric, statistic, threshold, written }) => {
  it(`alarms on ${statistic} ≥ ${threshold} in five minutes, missing data not breaching`, () => {
    const stack = new Stack(new App(), 'T');
    new AnexAlarms(stack, 'A', { functions: {}, deadLetterQueue: new sqs.Queue(stack, 'Q') });
    expect(alarmsOn(Template.fromStack(stack), metric).map((a) => a.Properties)).toEqual([
      expect.objectContaining({
        Namespace: METRICS.namespace,
        Statistic: statistic,
        Period: 300,
        Threshold: threshold,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('is part of the stack and notifies the alarm topic when one is configured', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    expect(alarmsOn(synthStack().template, metric)).toHaveLength(1);
    const [alarm] = alarmsOn(synthStack({ 'anex:alarmTopicArn': topicArn }).template, metric);
    expect([alarm?.Properties.AlarmActions, alarm?.Properties.OKActions]).toEqual([[topicArn], [topicArn]]);
  });

  it('watches the metric as the function writes it (undimensioned, as the EMF document says)', () => {
    const doc = emfDocument({ name: metric, ...written, now: 0 }) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    };
    const [directive] = doc._aws.CloudWatchMetrics;
    const [alarm] = alarmsOn(synthStack().template, metric);
    expect([directive?.Namespace, directive?.Dimensions, alarm?.Properties.Dimensions]).toEqual([
      METRICS.namespace,
      [[]],
      undefined,
    ]);
  });
});
