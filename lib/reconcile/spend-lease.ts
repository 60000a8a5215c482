import type { LeaseStore } from '../state/store.ts';
import type { SpendLimits } from './spend-limits.ts';

/**
 * The lock behind the spend caps (ADR 0019). A cap across pods (instances, total $/h, a
 * namespace's budget) is checked against what a pass observed; two passes at once (the tick
 * and a pod-event pass) would each miss the other's rent and could both pass the cap. So
 * while such a cap is set, a pass may rent only while it holds this lease, taken before it
 * observes and released after it executes: every rent another pass makes is then either in
 * this pass's observation or after this pass is done. A pass that cannot take it within a
 * few seconds rents nothing (execute counts those pods `busy`; the next pass rents them) and
 * does everything else as usual: destroys, reports and releases never wait for it.
 */
export const SPEND_LEASE = 'spend';

/** Whether `limits` has a cap over several pods (the per-pod price ceiling needs no lock). */
export function needsSpendLease(limits: SpendLimits | undefined): boolean {
  if (limits === undefined) return false;
  return (
    limits.maxInstances !== undefined ||
    limits.maxSpendPerHour !== undefined ||
    Object.keys(limits.namespaceBudgets ?? {}).length > 0
  );
}

export interface SpendLeaseOptions {
  owner: string;
  clock: () => number;
  /** the lease outlives a crashed holder by at most this */
  ttlMs: number;
  /** how long to wait for another pass to finish before renting nothing this pass */
  waitMs: number;
  deadline: number;
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
}

/** Takes the lease, retrying until `waitMs` or the deadline; true when held. */
export async function takeSpendLease(store: LeaseStore, options: SpendLeaseOptions): Promise<boolean> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const giveUpAt = Math.min(options.clock() + options.waitMs, options.deadline);
  for (;;) {
    const now = options.clock();
    if (await store.acquireLease(SPEND_LEASE, options.owner, { now, ttlMs: options.ttlMs })) return true;
    if (now >= giveUpAt || options.signal?.aborted) return false;
    await sleep(Math.min(RETRY_MS, Math.max(0, giveUpAt - now)));
  }
}

const RETRY_MS = 250;
