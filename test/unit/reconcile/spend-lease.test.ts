import { describe, expect, it } from 'vitest';
import { needsSpendLease, SPEND_LEASE, takeSpendLease } from '../../../lib/reconcile/spend-lease.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';

// ADR 0019: a cap over several pods is only as good as the order of the passes that rent
// under it; the per-pod price ceiling and the namespace opt-in need no lock.

describe('needsSpendLease', () => {
  it.each([
    { case: 'no spend policy', limits: undefined, locked: false },
    { case: 'namespace opt-in only', limits: { rentNamespaces: '*' as const }, locked: false },
    {
      case: 'a per-pod price ceiling only',
      limits: { rentNamespaces: '*' as const, maxPricePerHour: 2 },
      locked: false,
    },
    { case: 'an instance cap', limits: { rentNamespaces: '*' as const, maxInstances: 3 }, locked: true },
    { case: 'a total $/h cap', limits: { rentNamespaces: '*' as const, maxSpendPerHour: 1 }, locked: true },
    {
      case: 'a namespace budget',
      limits: { rentNamespaces: '*' as const, namespaceBudgets: { a: { perDay: 10 } } },
      locked: true,
    },
  ])('$case → $locked', ({ limits, locked }) => {
    expect(needsSpendLease(limits)).toBe(locked);
  });
});

describe('takeSpendLease', () => {
  function clocked() {
    let now = 1_000_000;
    return {
      clock: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
    };
  }

  it('takes a free lease at once', async () => {
    const store = new MemoryStore();
    const t = clocked();
    const held = await takeSpendLease(store, {
      owner: 'a',
      ttlMs: 60_000,
      waitMs: 5_000,
      deadline: Infinity,
      ...t,
    });
    expect(held).toBe(true);
    expect(await store.acquireLease(SPEND_LEASE, 'b', { now: t.clock(), ttlMs: 60_000 })).toBe(false);
  });

  it('waits for the holder to let go, then takes it', async () => {
    const store = new MemoryStore();
    const t = clocked();
    await store.acquireLease(SPEND_LEASE, 'a', { now: t.clock(), ttlMs: 60_000 });
    let tries = 0;
    const sleep = async (ms: number) => {
      tries += 1;
      if (tries === 3) await store.releaseLease(SPEND_LEASE, 'a');
      await t.sleep(ms);
    };
    const held = await takeSpendLease(store, {
      owner: 'b',
      ttlMs: 60_000,
      waitMs: 5_000,
      deadline: Infinity,
      clock: t.clock,
      sleep,
    });
    expect({ held, tries }).toEqual({ held: true, tries: 3 });
  });

  it.each([
    { case: 'its wait runs out', waitMs: 5_000, deadline: Infinity, waited: 5_000 },
    { case: 'the pass deadline comes first', waitMs: 5_000, deadline: 1_001_000, waited: 1_000 },
  ])('gives up (rents nothing this pass) when $case', async ({ waitMs, deadline, waited }) => {
    const store = new MemoryStore();
    const t = clocked();
    const start = t.clock();
    await store.acquireLease(SPEND_LEASE, 'a', { now: start, ttlMs: 60_000 });
    const held = await takeSpendLease(store, { owner: 'b', ttlMs: 60_000, waitMs, deadline, ...t });
    expect({ held, waited: t.clock() - start }).toEqual({ held: false, waited });
  });
});
