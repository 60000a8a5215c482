import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, VirtualNodeSpec } from './cluster.ts';
import { advertisedNode, type ReportedKubeletAddress } from './virtual-node.ts';

/**
 * Keeps the virtual nodes Ready (docs/adr/0002-heartbeat.md). Kubernetes' node lifecycle
 * controller marks a node `Ready=Unknown` once neither its Lease `renewTime` nor its Ready
 * condition's heartbeat has moved for `--node-monitor-grace-period` (50 s by default). The
 * `tick` function fires once a minute, so it loops inside its invocation: one status refresh
 * per node (which also sets Ready back to True after an outage), then a lease renewal every
 * `intervalMs` until `until`. Set `until` a few seconds past the next scheduled tick so
 * consecutive invocations overlap: renewals are idempotent, and a late or missed schedule
 * costs one interval, far inside the lease duration.
 *
 * It touches only the Kubernetes API — never a provider — so a marketplace outage cannot make
 * the nodes NotReady; of the store it reads one record per status refresh when given
 * `kubeletAddress` (ADR 0023 §3), and a failed read only leaves the address out of that
 * refresh. It never throws for a failed call: failures are reported and the next beat tries
 * again (an apiserver blip must not end the loop).
 */
export interface HeartbeatOptions {
  cluster: Cluster;
  nodes: readonly VirtualNodeSpec[];
  /** between lease renewals @default 10_000 (virtual-kubelet's cadence) */
  intervalMs?: number;
  /** Lease leaseDurationSeconds @default 40 */
  leaseDurationSeconds?: number;
  /** epoch ms: no renewal starts at or after this */
  until: number;
  /** stops the loop early (the function's deadline signal) */
  signal?: AbortSignal;
  now: () => number;
  /**
   * The kubelet API address the gateway last reported (the store's record): published on each
   * status refresh while fresh (advertisedNode). Unset: the nodes as given.
   */
  kubeletAddress?: () => Promise<ReportedKubeletAddress | undefined>;
  /** for tests; resolves early (without throwing) when `signal` aborts @default timers/promises setTimeout */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

export interface HeartbeatFailure {
  /** the node's name; `*` for a step of every node (reading the kubelet address) */
  node: string;
  step: 'ensure-node' | 'renew-lease' | 'kubelet-address';
  error: unknown;
}

export interface HeartbeatReport {
  /** rounds of lease renewals started */
  beats: number;
  /** successful lease renewals, all nodes together */
  renewed: number;
  failures: HeartbeatFailure[];
}

export async function runHeartbeat(options: HeartbeatOptions): Promise<HeartbeatReport> {
  const { cluster, nodes, until, signal, now } = options;
  const intervalMs = options.intervalMs ?? 10_000;
  const durationSeconds = options.leaseDurationSeconds ?? 40;
  const sleep = options.sleep ?? abortableDelay;
  const report: HeartbeatReport = { beats: 0, renewed: 0, failures: [] };

  // One read of the kubelet address per round of status refreshes, shared by its nodes.
  const ensureAll = async (list: readonly VirtualNodeSpec[]) => {
    const address = await readAddress(options, report);
    return forEachNode(list, 'ensure-node', report, (node) =>
      cluster.ensureNode(advertisedNode(node, address, now()), { now: now() }),
    );
  };
  // A node whose status refresh failed (API down at the start) is tried again each beat,
  // so it gets Ready back within one interval of the API returning, not at the next run.
  let unrefreshed = await ensureAll(nodes);
  let next = now();
  while (!signal?.aborted && next < until) {
    report.beats += 1;
    if (unrefreshed.length > 0 && report.beats > 1) {
      unrefreshed = await ensureAll(unrefreshed);
    }
    const renewed = await forEachNode(nodes, 'renew-lease', report, (node) =>
      cluster.renewNodeLease(node.name, { now: now(), durationSeconds }),
    );
    report.renewed += nodes.length - renewed.length;
    // Fixed cadence from the start, not from the end of a slow call, so beats never drift apart.
    next += intervalMs;
    if (next >= until) break;
    const wait = next - now();
    if (wait > 0) await sleep(wait, signal);
  }
  return report;
}

/** The reported kubelet address; a failed read is reported and publishes none this time. */
async function readAddress(
  options: HeartbeatOptions,
  report: HeartbeatReport,
): Promise<ReportedKubeletAddress | undefined> {
  if (options.kubeletAddress === undefined) return undefined;
  try {
    return await options.kubeletAddress();
  } catch (error) {
    report.failures.push({ node: '*', step: 'kubelet-address', error });
    return undefined;
  }
}

/** Runs `step` for every node concurrently; a failing node never holds up the others. @returns the nodes that failed. */
async function forEachNode(
  nodes: readonly VirtualNodeSpec[],
  step: HeartbeatFailure['step'],
  report: HeartbeatReport,
  run: (node: VirtualNodeSpec) => Promise<void>,
): Promise<VirtualNodeSpec[]> {
  const results = await Promise.allSettled(nodes.map((node) => run(node)));
  const failed: VirtualNodeSpec[] = [];
  results.forEach((result, i) => {
    const node = nodes[i];
    if (result.status === 'fulfilled' || node === undefined) return;
    report.failures.push({ node: node.name, step, error: result.reason });
    failed.push(node);
  });
  return failed;
}

async function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await delay(ms, undefined, signal === undefined ? {} : { signal }).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'AbortError')) throw error;
  });
}
