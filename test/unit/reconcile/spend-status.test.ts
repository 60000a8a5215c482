import { describe, expect, it } from 'vitest';
import { limitsTable } from '../../../lib/cli/commands/status.ts';
import { limitUses, recordedSpend } from '../../../lib/reconcile/spend-limits.ts';
import type { PodRecord } from '../../../lib/state/store.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function aRecord(n: number, overrides: Partial<PodRecord>): PodRecord {
  return {
    podUid: `uid-${n}`,
    namespace: 'ml',
    name: `train-${n}`,
    provider: 'vastai',
    stage: 'running',
    attempts: 1,
    version: 1,
    updatedAt: T0,
    ...overrides,
  };
}

describe('anex status: spend against each limit', () => {
  const records = [
    aRecord(1, { instance: { id: 'i-1', createdAt: T0, pricePerHour: 0.6 } }),
    aRecord(2, { namespace: 'team-a', instance: { id: 'i-2', createdAt: T0, pricePerHour: 0.25 } }),
    aRecord(3, { stage: 'creating', intent: { attempt: 1, offerId: 'o', at: T0 } }),
    aRecord(4, { stage: 'finished', instance: { id: 'i-4', createdAt: T0, pricePerHour: 9 } }),
  ];

  it('sums the recorded instances (a create in flight is one instance, finished ones nothing)', () => {
    const spend = recordedSpend(records);
    expect([spend.perHour, spend.instances, [...spend.byNamespace]]).toEqual([
      0.85,
      3,
      [
        ['ml', 0.6],
        ['team-a', 0.25],
      ],
    ]);
  });

  it('prints each limit with its share, marking those at 80% or more', () => {
    const uses = limitUses(recordedSpend(records), {
      rentNamespaces: '*',
      maxInstances: 3,
      maxSpendPerHour: 2,
      namespaceBudgets: { ml: { perDay: 16 } },
    });
    expect(limitsTable(uses)).toBe(
      [
        '',
        'spend limits:',
        '  instances: 3 of 3 (100%, ANEX_MAX_INSTANCES)  (near the limit)',
        '  total $/h: 0.85 of 2.00 (43%, ANEX_MAX_SPEND_PER_HOUR)',
        '  namespace ml $/day: 14.40 of 16.00 (90%, ANEX_NAMESPACE_BUDGETS)  (near the limit)',
        '',
      ].join('\n'),
    );
  });

  it('prints nothing without limits', () => {
    expect(limitsTable(limitUses(recordedSpend(records), { rentNamespaces: '*' }))).toBe('');
  });
});
