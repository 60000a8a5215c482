import { describe, expect, it } from 'vitest';
import { type ManifestFlags, parseManifestFlags } from '../../../lib/manifests/options.ts';
import { buildManifests } from '../../../lib/manifests/render.ts';
import { webhookNamespaceSelector } from '../../../lib/manifests/webhook.ts';
import { invalidInputIssues } from '../../support/invalid-input.ts';

// ADR 0019: the webhooks' namespaceSelector follows the namespaces that may rent, when listed.
describe('webhookNamespaceSelector', () => {
  const never = {
    key: 'kubernetes.io/metadata.name',
    operator: 'NotIn',
    values: ['kube-system', 'kube-node-lease', 'anex-system'],
  };
  it.each([
    { case: 'not given: every namespace but the excluded', rent: undefined, expressions: [never] },
    { case: '"*": the same', rent: '*' as const, expressions: [never] },
    {
      case: 'a list: only those',
      rent: ['ml', 'team-a'],
      expressions: [never, { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['ml', 'team-a'] }],
    },
  ])('$case', ({ rent, expressions }) => {
    const options = { namespace: 'anex-system', ...(rent === undefined ? {} : { rentNamespaces: rent }) };
    expect(webhookNamespaceSelector(options).matchExpressions).toEqual(expressions);
  });
});

describe('anex manifests --rent-namespaces', () => {
  const WEBHOOK = 'https://abc.lambda-url.eu-west-1.on.aws/admit/0123456789abcdef0123456789abcdef';
  const selectors = (flags: ManifestFlags) =>
    buildManifests(parseManifestFlags({ webhookUrl: WEBHOOK, ...flags }).options)
      .objects.filter((o) => o.kind.endsWith('WebhookConfiguration'))
      .flatMap((o) => (o as unknown as { webhooks: { namespaceSelector: unknown }[] }).webhooks)
      .map((w) => w.namespaceSelector);

  it('narrows every webhook to the listed namespaces', () => {
    const all = selectors({ rentNamespaces: 'ml,team-a' });
    expect(all.length).toBeGreaterThan(0);
    for (const selector of all)
      expect(selector).toEqual(
        webhookNamespaceSelector({ namespace: 'anex-system', rentNamespaces: ['ml', 'team-a'] }),
      );
  });

  it('refuses a bad name, naming the flag and the accepted form', () => {
    expect(
      invalidInputIssues(() => parseManifestFlags({ webhookUrl: WEBHOOK, rentNamespaces: 'ML' })),
    ).toEqual([
      '--rent-namespaces "ML" is not a comma list of namespace names (e.g. "ml,team-a"), or "*" for every namespace',
    ]);
  });
});
