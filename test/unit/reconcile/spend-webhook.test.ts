import { describe, expect, it } from 'vitest';
import { webhookNamespaceSelector } from '../../../lib/manifests/webhook.ts';

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
