import { describe, expect, it } from 'vitest';
import { webhookRoute } from '../../functions/support/webhook-auth.ts';
import type { KubeObject } from '../../lib/manifests/common.ts';
import { buildManifests } from '../../lib/manifests/render.ts';
import { WEBHOOK_NAMES } from '../../lib/manifests/webhook.ts';
import { logicalId, synthStack } from './stack-fixture.ts';

// The stack serves both admission webhooks from one public Function URL; `anex manifests`
// registers them from the stack's AdmissionUrl output as docs/deploy.md says to build
// --webhook-url. These tests tie the three together: the output, the rendered
// configurations, and the routes the deployed handler accepts.

const { stack, template } = synthStack();
const admissionId = logicalId(stack, stack.functions.admission.function);
const TOKEN = 'Zx9'.padEnd(43, 'k'); // a placeholder of the generated token's length

type Configuration = KubeObject & {
  webhooks: { name: string; failurePolicy: string; clientConfig: { url: string } }[];
};

describe('AnexStack: admission webhooks', () => {
  it('documents both paths on the AdmissionUrl output, which is the admission function’s URL', () => {
    const output = template.findOutputs('AdmissionUrl').AdmissionUrl as {
      Description: string;
      Value: unknown;
    };
    expect(output.Description).toMatch(/admit\/<webhookToken/);
    expect(output.Description).toMatch(/mutate\/<webhookToken>/);
    const urls = template.findResources('AWS::Lambda::Url') as Record<
      string,
      { Properties: { TargetFunctionArn: unknown } }
    >;
    const admissionUrlIds = Object.entries(urls)
      .filter(([, url]) => JSON.stringify(url.Properties.TargetFunctionArn).includes(admissionId))
      .map(([id]) => id);
    expect(JSON.stringify(output.Value)).toContain(admissionUrlIds[0]);
  });

  it('is described as serving both the validating and the mutating webhook', () => {
    const fn = template.findResources('AWS::Lambda::Function')[admissionId] as {
      Properties: { Description: string };
    };
    expect(fn.Properties.Description).toMatch(/validate/);
    expect(fn.Properties.Description).toMatch(/mutate: outage tolerations/);
  });

  it('gets a Validating and a Mutating configuration from `anex manifests`, each on a path its handler routes', () => {
    // As a deployed Function URL looks (the output's value), with the documented suffix.
    const webhookUrl = `https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/admit/${TOKEN}`;
    const { objects } = buildManifests({
      version: '1.0.0',
      namespace: 'anex-system',
      nodeNames: ['anex-vastai', 'anex-runpod'],
      webhookUrl,
    });
    const routes = (kind: string) =>
      (objects.find((o) => o.kind === kind) as Configuration).webhooks.map((w) => ({
        name: w.name,
        failurePolicy: w.failurePolicy,
        route: webhookRoute(new URL(w.clientConfig.url).pathname, TOKEN),
      }));
    expect(routes('ValidatingWebhookConfiguration').map((r) => r.route)).toEqual([
      'validate',
      'validate',
      'validate',
    ]);
    expect(routes('MutatingWebhookConfiguration')).toEqual([
      { name: WEBHOOK_NAMES.tolerations, failurePolicy: 'Fail', route: 'mutate' },
    ]);
  });
});
