import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { AnexStack } from '../../infra/anex-stack.ts';
import { buildApp } from '../../infra/app.ts';

/**
 * Builds the real app (settings from context, cdk-nag attached) with asset bundling
 * skipped — `aws:cdk:bundling-stacks: []` is CDK's own switch — so template assertions run in
 * about a second. test/infra/bundling.test.ts runs the real esbuild bundling through the CDK CLI.
 */
export function synthStack(context: Record<string, unknown> = {}): {
  app: App;
  stack: AnexStack;
  template: Template;
} {
  const { app, stack } = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } }));
  return { app, stack, template: Template.fromStack(stack) };
}

type Resource = { Type: string; Properties: Record<string, unknown> } & Record<string, unknown>;

/** Resources of one type, keyed by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(stack: AnexStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}
