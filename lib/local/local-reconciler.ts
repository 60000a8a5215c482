import type { KubeConfig } from '@kubernetes/client-node';
import type { VirtualNodeSpec } from '../kube/cluster.ts';
import { type HeartbeatOptions, runHeartbeat } from '../kube/heartbeat.ts';
import { type PassDeps, type PassSummary, runPass } from '../reconcile/pass.ts';
import { money, NEAR_LIMIT } from '../reconcile/spend-limits.ts';
import type { OutageRepair } from './outage-repair.ts';
import { type PodChange, type PodWatch, watchPods } from './pod-watch.ts';

export interface LocalReconcilerOptions {
  deps: PassDeps;
  kubeConfig: KubeConfig;
  /** the virtual nodes to keep Ready and whose pods are reconciled */
  nodes: readonly VirtualNodeSpec[];
  /** full pass cadence (replaces the Lambda schedule) */
  passIntervalMs: number;
  /** lease renewals @default 10_000 */
  heartbeatIntervalMs?: number;
  /** the kubelet API address a gateway reported (ADR 0023), published while fresh; unset: the nodes as given */
  kubeletAddress?: HeartbeatOptions['kubeletAddress'];
  /** no new pod work is started this long after a pass began @default 30_000 */
  passBudgetMs?: number;
  /** one line per pass that did something, and every failure */
  log: (line: string) => void;
  /** the pod watch @default watchPods over `kubeConfig` (unit tests give their own) */
  watch?: (onChange: (change: PodChange) => void) => PodWatch;
  /**
   * Makes the outage tolerations of a pod newly bound to a virtual node permanent (local mode
   * has no mutating webhook; ADR 0012). Undefined: no repair.
   */
  outageRepair?: OutageRepair;
}

export interface LocalReconciler {
  /** Asks for a pass now: one pod (`podUid`) or a full pass. */
  trigger(podUid?: string): void;
  /**
   * Graceful stop: no new pass starts; the pass in flight finishes (its provider calls are
   * not cut off, so no create is left with an unknown outcome) and releases its leases.
   * `abort: true` (a second Ctrl-C) also aborts the in-flight pass's calls.
   */
  stop(options?: { abort?: boolean }): Promise<void>;
}

type Work = 'full' | { podUid: string };

/**
 * The Lambda schedule and webhook, as one process (DESIGN §1, local mode): a timer runs a full
 * pass every `passIntervalMs`, a pod watch runs a per-pod pass when a pod is bound to a
 * virtual node or its deletion is requested, and the heartbeat keeps the nodes Ready. Passes
 * run one at a time — the pass is safe concurrently, but one at a time keeps logs readable
 * and the provider's rate limits far away.
 */
export async function startLocalReconciler(options: LocalReconcilerOptions): Promise<LocalReconciler> {
  const { deps, nodes } = options;
  // Registering the nodes first: pods cannot be scheduled before the node exists.
  for (const node of nodes) await deps.cluster.ensureNode(node, { now: deps.clock() });
  const heartbeatStop = new AbortController();
  const passAbort = new AbortController();
  const heartbeat = runHeartbeat({
    cluster: deps.cluster,
    nodes,
    until: Number.MAX_SAFE_INTEGER,
    signal: heartbeatStop.signal,
    now: deps.clock,
    ...(options.heartbeatIntervalMs === undefined ? {} : { intervalMs: options.heartbeatIntervalMs }),
    ...(options.kubeletAddress === undefined ? {} : { kubeletAddress: options.kubeletAddress }),
  });
  const queue = new WorkQueue();
  let stopping = false;
  const worker = (async () => {
    for (let work = await queue.next(); work !== undefined && !stopping; work = await queue.next()) {
      await runOne(options, work, passAbort.signal);
    }
  })();
  const timer = setInterval(() => queue.push('full'), options.passIntervalMs);
  const onChange = (change: PodChange): void => {
    queue.push(change.kind === 'deleted' ? 'full' : { podUid: change.uid });
    if (change.kind === 'bound' && options.outageRepair !== undefined)
      void repairTolerations(options.outageRepair, change, options.log, () => stopping);
  };
  const watch: PodWatch =
    options.watch?.(onChange) ??
    watchPods({
      kubeConfig: options.kubeConfig,
      nodeNames: nodes.map((n) => n.name),
      onChange,
      onError: (message) => options.log(`pod watch: ${message} (reconnecting)`),
    });
  queue.push('full');
  return {
    trigger: (podUid) => queue.push(podUid === undefined ? 'full' : { podUid }),
    async stop(stopOptions = {}) {
      stopping = true;
      clearInterval(timer);
      if (stopOptions.abort === true) passAbort.abort();
      queue.close();
      watch.stop();
      heartbeatStop.abort();
      await worker;
      await heartbeat;
    },
  };
}

async function runOne(options: LocalReconcilerOptions, work: Work, signal: AbortSignal): Promise<void> {
  const { deps } = options;
  const now = deps.clock();
  const podUid = work === 'full' ? undefined : work.podUid;
  try {
    const summary = await runPass(deps, {
      now,
      deadline: now + (options.passBudgetMs ?? 30_000),
      signal,
      ...(podUid === undefined ? {} : { podUid }),
    });
    const line = describePass(summary, podUid);
    if (line !== undefined) options.log(line);
    // Locally the alarm is a warning line (ADR 0019), on full passes (they see every pod).
    const near = podUid === undefined ? spendWarning(summary) : undefined;
    if (near !== undefined) options.log(near);
  } catch (error) {
    options.log(`pass failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const REPAIR_ATTEMPTS = 3;
const REPAIR_RETRY_MS = 5_000;

/**
 * The outage repair of one newly bound pod, retried a few times (the watch reports a pod once);
 * never throws — a pod left unrepaired is logged, and reported again by the reconciler.
 */
export async function repairTolerations(
  repair: OutageRepair,
  pod: { namespace: string; name: string },
  log: (line: string) => void,
  stopped: () => boolean,
  retryMs = REPAIR_RETRY_MS,
): Promise<void> {
  for (let attempt = 1; !stopped(); attempt++) {
    try {
      const outcome = await repair.repair(pod);
      if (outcome === 'patched') {
        log(
          `pod ${pod.namespace}/${pod.name}: outage tolerations made permanent (no eviction when anex is away)`,
        );
      }
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (attempt >= REPAIR_ATTEMPTS) {
        log(`pod ${pod.namespace}/${pod.name}: could not make its outage tolerations permanent: ${message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
    }
  }
}

/** One line when the pass acted or failed somewhere; undefined for a quiet pass. */
/** The limits at 80% or more of their cap, as one warning line; undefined when none is. */
export function spendWarning(summary: PassSummary): string | undefined {
  const near = (summary.spendLimits ?? []).filter((u) => u.used >= NEAR_LIMIT * u.cap);
  if (near.length === 0) return undefined;
  const what = near.map((u) => `${u.limit} ${money(u.used)} of ${money(u.cap)} (${u.setting})`);
  return `warning: spend near a limit: ${what.join('; ')}`;
}

export function describePass(summary: PassSummary, podUid?: string): string | undefined {
  if (summary.executed === 0 && summary.errors.length === 0 && summary.providersDown.length === 0) {
    return undefined;
  }
  const plans = Object.entries(summary.plans)
    .map(([label, count]) => `${label} ${count}`)
    .join(', ');
  const scope = podUid === undefined ? 'pass' : `pass (pod ${podUid.slice(0, 8)})`;
  const parts = [`${scope}: ${summary.pods} pod(s)${plans === '' ? '' : ` [${plans}]`}`];
  parts.push(`${summary.executed} acted on`, `${summary.durationMs} ms`);
  if (summary.providersDown.length > 0) parts.push(`provider down: ${summary.providersDown.join(', ')}`);
  const errors = summary.errors.map((e) => `\n  error: ${e.message}`).join('');
  return `${parts.join(', ')}${errors}`;
}

/** Deduplicating FIFO: a full pass queued once covers every pod; a pod queued once is enough. */
class WorkQueue {
  readonly #items: Work[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  push(work: Work): void {
    if (this.#closed) return;
    const same = (w: Work) => (w === 'full' ? work === 'full' : work !== 'full' && w.podUid === work.podUid);
    if (!this.#items.some(same)) this.#items.push(work);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    this.#wake?.();
  }

  async next(): Promise<Work | undefined> {
    while (this.#items.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    return this.#items.shift();
  }
}
