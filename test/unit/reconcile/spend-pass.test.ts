import { describe, expect, it } from 'vitest';
import { anOffer, gpuPod, harness, MINUTE } from './harness.ts';

// ADR 0019 through whole passes over the in-memory parts: full passes and per-pod passes
// (pod events, the local binding watch) hold the same pod against the same spend.

describe('runPass with spend limits', () => {
  function twoPods() {
    const h = harness({ spend: { rentNamespaces: ['default'], maxSpendPerHour: 1 } });
    h.vast.offers = [0.6, 0.6, 0.6].map((pricePerHour) => anOffer({ pricePerHour }));
    const first = h.cluster.addPod(gpuPod(1));
    h.tick(1_000);
    const second = h.cluster.addPod(gpuPod(2));
    return { h, first, second };
  }

  it('a per-pod pass sees what the other pods spend: the second pod is held there too', async () => {
    const { h, first, second } = twoPods();
    await h.pass({ podUid: first.uid });
    expect(h.vast.creates).toHaveLength(1);
    h.tick(MINUTE);
    h.vast.advance();
    const summary = await h.pass({ podUid: second.uid });
    expect(summary.errors).toEqual([]);
    expect(h.vast.creates).toHaveLength(1);
    const waiting = h.cluster.pod('default', second.name)?.status?.containerStatuses[0]?.state;
    expect(waiting).toMatchObject({
      waiting: {
        reason: 'SpendLimit',
        message: expect.stringMatching(
          /^SpendLimit: total \$\/h 0\.60 \+ 0\.60 > cap 1\.00 \(ANEX_MAX_SPEND_PER_HOUR\)/,
        ),
      },
    });
  });

  it('a full pass rents for the older pod only, reports spend against the cap, and rents the other once the cap is raised', async () => {
    const { h, second } = twoPods();
    const summary = await h.pass();
    expect(h.vast.creates).toHaveLength(1);
    expect(summary.spendLimits).toEqual([
      { limit: 'total $/h', setting: 'ANEX_MAX_SPEND_PER_HOUR', used: 0, cap: 1 },
    ]);
    const after = await h.pass();
    expect(after.spendLimits?.[0]?.used).toBeCloseTo(0.6, 9);
    expect(h.cluster.pod('default', second.name)?.status?.containerStatuses[0]?.state).toMatchObject({
      waiting: { reason: 'SpendLimit' },
    });
    h.deps.config = { ...h.deps.config, spend: { rentNamespaces: ['default'], maxSpendPerHour: 1.2 } };
    await h.pass();
    expect(h.vast.creates).toHaveLength(2);
    expect(h.vast.creates.map((c) => c.launch.env.ANEX_POD_UID)).toContain(second.uid);
  });

  it('two passes at once (the tick and a pod event) rent one pod of two under the cap, not both: the spend lease orders them', async () => {
    const { h, first, second } = twoPods();
    const summaries = await Promise.all([h.pass({ podUid: first.uid }), h.pass({ podUid: second.uid })]);
    expect(summaries.flatMap((s) => s.errors)).toEqual([]);
    expect(h.vast.creates).toHaveLength(1);
    const states = [first, second].map((p) => {
      const state = h.cluster.pod('default', p.name)?.status?.containerStatuses[0]?.state;
      return state !== undefined && 'waiting' in state ? state.waiting.reason : 'not waiting';
    });
    expect(states).toContain('SpendLimit');
  });
});
