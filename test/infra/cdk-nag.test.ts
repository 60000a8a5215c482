import { App, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { synthStack } from './stack-fixture.ts';

type Violation = { ruleName: string; violatingResources: { resourceLogicalId: string }[] };

function violationsOf(stack: Stack): Violation[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
  return report.violations as unknown as Violation[];
}

describe('cdk-nag AwsSolutions', () => {
  it('finds no unacknowledged violation in the stack', () => {
    const { stack } = synthStack();
    expect(
      violationsOf(stack).map((v) => `${v.ruleName} on ${v.violatingResources[0]?.resourceLogicalId}`),
    ).toEqual([]);
  });

  it('acknowledges each finding with a written reason', () => {
    const { stack } = synthStack();
    const acknowledgements = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ id: id.replace(/^Annotation::/, '').replace(/<[^>]+>/, '<fn>'), reason }));
    expect(acknowledgements.map((a) => a.id).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::<fn>:*]',
      // one per secret: reconciler, agent, webhook (ADR 0022)
      'AwsSolutions-SMG4',
      'AwsSolutions-SMG4',
      'AwsSolutions-SMG4',
    ]);
    for (const { reason } of acknowledgements) expect(reason.length).toBeGreaterThan(60);
  });

  it('still reports violations added next to the stack (the check is live)', () => {
    const { stack } = synthStack();
    const careless = new iam.Role(stack, 'Careless', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    careless.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    expect(violationsOf(stack).map((v) => v.ruleName)).toContain('AwsSolutions-IAM5[Action::s3:*]');
  });

  it('fails the app synth on an unacknowledged violation (infra/app.ts registers the checks)', () => {
    const { app, stack } = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    new iam.Role(stack, 'Careless', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    }).addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });
});
