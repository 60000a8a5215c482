import type { ProviderName } from '../offers/offer.ts';
import type { ForwardingConfig } from './forwarders.ts';
import type { SpendLimits } from './spend-limits.ts';

/**
 * The knobs a reconcile pass needs, already validated (lib/config parses them with zod and
 * hands over this shape). Every duration is in milliseconds.
 */
export interface ReconcileConfig {
  /** Identifies this installation in instance tags (`anex.<clusterId>.<podUid>`). */
  clusterId: string;
  /** Virtual node name per provider; a provider without a node is not reconciled. */
  nodes: Partial<Record<ProviderName, string>>;
  /** How long an instance may take from create to running before it counts as a host fault. */
  startTimeoutMs: Record<ProviderName, number>;
  /** Provisioning attempts (failed starts; not offers gone) before the pod is Failed. */
  maxAttempts: number;
  /** How long a machine that failed to start stays banned (Vast). */
  banTimeoutMs: number;
  /** A tagged instance with neither pod nor record is destroyed only once this old (read lag, in-flight creates). */
  gcGraceMs: number;
  /** After an unknown create outcome: how long to keep looking for the tagged instance before trying another offer. */
  createLagMs: number;
  /** Candidates tried in one pass when offers keep vanishing (dstack tries 25 per attempt). */
  maxCandidatesPerPass: number;
  /** Providers whose failed machines are banned by machine id (DESIGN §3: Vast only). */
  machineBans: readonly ProviderName[];
  /**
   * Where machines are not banned (RunPod: no per-machine offers), the failed offer's scope
   * (GPU type × cloud × data center) cools down this long instead. @default 15 min
   */
  offerCooldownMs?: number;
  /** Per-pod lease: longer than the slowest provisioning sequence of one pod. */
  podLeaseMs: number;
  /**
   * After a deleted pod's grace period ends, how long its agent still has to report the exit
   * before the machine is destroyed anyway: its next pod-alive question (every 10 s), the
   * SIGKILL wait (2 s) and the report. @default 30 s
   */
  stopMarginMs: number;
  /**
   * The operator's spend limits and namespace opt-in (ADR 0019), checked before every rent.
   * lib/config always sets them (no namespace enabled unless the operator says so); unset
   * here means a reconciler built without a spend policy (tests of other concerns).
   */
  spend?: SpendLimits;
  /**
   * Forwarder pods that give anex pods with declared ports a cluster address (ADR 0024):
   * then the forwarder's IP is the pod's podIP and no other status write sets one. Unset (local
   * mode, tests of other concerns): podIP is the pod's VPN address.
   */
  forwarding?: ForwardingConfig;
}

/** Defaults from the providers' observed boot times (Vast 1-5 min usually; dstack allows 10/20 min). */
export const DEFAULT_RECONCILE_CONFIG: ReconcileConfig = {
  clusterId: 'default',
  nodes: { vastai: 'anex-vastai', runpod: 'anex-runpod' },
  startTimeoutMs: { vastai: 10 * 60_000, runpod: 20 * 60_000 },
  maxAttempts: 5,
  banTimeoutMs: 6 * 60 * 60_000,
  gcGraceMs: 10 * 60_000,
  createLagMs: 2 * 60_000,
  maxCandidatesPerPass: 10,
  machineBans: ['vastai'],
  podLeaseMs: 5 * 60_000,
  stopMarginMs: 30_000,
};
