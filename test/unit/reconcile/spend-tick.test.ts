import { describe, expect, it, vi } from 'vitest';
import type { ReconcilerRoot } from '../../../functions/support/reconciler-root.ts';
import { runTick } from '../../../functions/tick.ts';
import { loadConfigFromEnv, reconcileConfig, virtualNodes } from '../../../lib/config/config.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import { spendWarning } from '../../../lib/local/local-reconciler.ts';
import { plainLaunch } from '../../../lib/reconcile/launch.ts';
import type { PassSummary } from '../../../lib/reconcile/pass.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';

// ADR 0019: the alarm's input. The tick writes SpendLimitUse (EMF) at 80% or more of a limit,
// nothing below; `anex run` says the same as a warning line.

/** A tick's root over in-memory parts, configured from ANEX_* as the stack does. */
function aRoot(env: Record<string, string>): ReconcilerRoot {
  const config = loadConfigFromEnv(env);
  const provider = new FakeProvider('vastai');
  // One clock reading for both: the fake lists an instance only once `now - createdAt` ≥ 0,
  // and two readings a millisecond apart (a loaded machine) hid it from the pass.
  const now = Date.now();
  provider.now = now;
  // one instance billing, its pod unknown and within the GC grace: it counts until destroyed
  provider.seed({
    id: 'i-1',
    tag: { clusterId: 'default', podUid: 'u-1' },
    state: { phase: 'running' },
    pricePerHour: 0.5,
    createdAt: now,
  });
  const deps = {
    store: new MemoryStore(),
    cluster: new MemoryCluster(),
    providers: { vastai: provider },
    config: reconcileConfig(config),
    rules: defaultRules,
    launch: plainLaunch,
    clock: Date.now,
  };
  return { config, deps, nodes: virtualNodes(config).filter((n) => n.provider === 'vastai') };
}

describe('tick: SpendLimitUse', () => {
  it.each([
    { case: '1 instance of a cap of 1: 100%', env: { ANEX_MAX_INSTANCES: '1' }, written: [100] },
    { case: '0.50 $/h of 0.60: 83%', env: { ANEX_MAX_SPEND_PER_HOUR: '0.6' }, written: [83] },
    { case: '1 instance of 2: 50%, nothing written', env: { ANEX_MAX_INSTANCES: '2' }, written: [] },
    { case: 'no limit: nothing written', env: {}, written: [] },
  ])('$case', async ({ env, written }) => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const root = aRoot({ ANEX_RENT_NAMESPACES: '*', ...env });
      await runTick(root, {
        deadline: { at: Date.now() + 60_000, signal: new AbortController().signal },
        windowSeconds: 0.05,
      });
    } finally {
      spy.mockRestore();
    }
    const values = writes
      .filter((w) => w.includes('"SpendLimitUse"'))
      .map((w) => (JSON.parse(w) as { SpendLimitUse: number }).SpendLimitUse);
    expect(values).toEqual(written);
  });
});

describe('anex run: spendWarning', () => {
  const summary = (spendLimits: PassSummary['spendLimits']) => ({ spendLimits }) as PassSummary;
  it.each([
    {
      case: 'a limit at 80%',
      uses: [{ limit: 'total $/h', setting: 'ANEX_MAX_SPEND_PER_HOUR', used: 0.8, cap: 1 }],
      line: 'warning: spend near a limit: total $/h 0.80 of 1.00 (ANEX_MAX_SPEND_PER_HOUR)',
    },
    {
      case: 'under 80%',
      uses: [{ limit: 'instances', setting: 'ANEX_MAX_INSTANCES', used: 1, cap: 2 }],
      line: undefined,
    },
    { case: 'no limits', uses: undefined, line: undefined },
  ])('$case', ({ uses, line }) => {
    expect(spendWarning(summary(uses))).toBe(line);
  });
});
