import type { PodEventSink } from '../admission/pod-event.ts';
import { isAnexError } from '../errors.ts';
import type { Cluster, ContainerView, PodView } from '../kube/cluster.ts';
import type { ProviderName } from '../offers/offer.ts';
import type { PodRecord, PodWrite, Store } from '../state/store.ts';
import type { AgentBackend, AgentLaunch, StatusReport } from '../tunnel/endpoint/types.ts';
import { events } from './events.ts';
import { change, toWrite } from './plan-env.ts';
import { buildStatus } from './status.ts';

export interface ReconcilerAgentBackendOptions {
  store: Store;
  cluster: Cluster;
  /** how each provider's instances reach the gateway (UDP blocked → wstunnel) */
  transport: Record<ProviderName, AgentLaunch['transport']>;
  /** @default Date.now */
  clock?: () => number;
  /**
   * The container's effective argv and workingDir over its image config (lib/images
   * resolveCommand): `command` replaces ENTRYPOINT, `args` CMD. Unset, or undefined for a
   * container (registry unreachable): the container's own command and args, as given.
   */
  command?: (container: ContainerView) => Promise<{ argv: readonly string[] } | undefined>;
  /**
   * Where an exit report asks for the pod's own pass (cause `agent-status`), so the instance
   * is destroyed — and RunPod, which restarts an exited container and bills on, stops billing —
   * without waiting for the next tick. Best effort: a lost request leaves it to the tick.
   * Unset: the tick only.
   */
  passes?: PodEventSink;
}

/**
 * The agent endpoint's view of pods (lib/tunnel AgentBackend), over the same Store and
 * Cluster the reconcile pass uses. Agent reports land in the pod record (so the next pass
 * sees them: an exit code makes it destroy the instance and finish or restart the pod; an
 * exit report also asks for that pod's pass at once, {@link ReconcilerAgentBackendOptions.passes}) and,
 * for a start, straight in Kubernetes so `kubectl get pods` shows Running without waiting
 * for the next pass.
 */
export class ReconcilerAgentBackend implements AgentBackend {
  readonly #options: ReconcilerAgentBackendOptions;
  readonly #clock: () => number;

  constructor(options: ReconcilerAgentBackendOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  async getLaunch(podUid: string): Promise<AgentLaunch | undefined> {
    const live = await this.#live(podUid);
    const container = live?.pod.containers[0];
    if (live === undefined || container === undefined) return undefined;
    const resolved = await this.#options.command?.(container).catch(() => undefined);
    // The provider starts the container in the image's WorkingDir already: the agent changes
    // directory only for the pod's own workingDir.
    const workingDir = container.workingDir;
    return {
      podUid,
      transport: this.#options.transport[live.record.provider],
      command: resolved?.argv ?? container.command ?? [],
      args: resolved === undefined ? (container.args ?? []) : [],
      ...(workingDir === undefined ? {} : { workingDir }),
      env: container.env,
      restartPolicy: live.pod.restartPolicy,
    };
  }

  async saveStatusCredential(podUid: string, hash: string): Promise<void> {
    await this.#update(podUid, (record) => change(record, { statusCredentialHash: hash }));
  }

  async getStatusCredentialHash(podUid: string): Promise<string | undefined> {
    return (await this.#options.store.getPod(podUid))?.statusCredentialHash;
  }

  async recordStatus(podUid: string, report: StatusReport, options: { now: number }): Promise<void> {
    const record = await this.#update(podUid, (current) => applyReport(current, report, options.now));
    if (record === undefined || report.state !== 'started') {
      if (record !== undefined && report.state === 'failed') await this.#event(record, 'failed', report);
      if (record?.exitCode !== undefined && report.state === 'exited') await this.#askForPass(record);
      return;
    }
    // Reported before the pass recorded the instance (adoption pending): the pass says Running once it has.
    if (record.stage !== 'running' || record.startedAt === undefined) return;
    const pod = await this.#options.cluster.getPod(record.namespace, record.name);
    if (pod?.uid !== podUid) return;
    await this.#options.cluster.recordEvent(pod, events.started(record.instance?.id ?? 'unknown'), {
      now: options.now,
    });
    const status = buildStatus({
      pod,
      situation: { kind: 'running', startedAt: record.startedAt },
      now: options.now,
      ...(record.vpnAddress === undefined ? {} : { podIP: record.vpnAddress }),
      ...(record.restarts === undefined ? {} : { restarts: record.restarts }),
    });
    await this.#options.cluster.updatePodStatus(pod, status);
  }

  async isPodAlive(podUid: string): Promise<boolean> {
    return (await this.#live(podUid)) !== undefined;
  }

  /** The record and pod while the pod may still run: not deleted, not finished. */
  async #live(podUid: string): Promise<{ record: PodRecord; pod: PodView } | undefined> {
    const record = await this.#options.store.getPod(podUid);
    if (record === undefined || ['finished', 'terminating', 'releasing'].includes(record.stage))
      return undefined;
    const pod = await this.#options.cluster.getPod(record.namespace, record.name);
    if (pod?.uid !== podUid || pod.deletionTimestamp !== undefined) return undefined;
    return { record, pod };
  }

  /** Read-modify-write with the record's version; a concurrent pass's write wins and we re-apply. */
  async #update(
    podUid: string,
    edit: (record: PodWrite) => PodWrite | undefined,
  ): Promise<PodRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.#options.store.getPod(podUid);
      if (current === undefined) return undefined;
      const next = edit(toWrite(current));
      if (next === undefined) return current;
      try {
        return await this.#options.store.putPod(next, {
          expectedVersion: current.version,
          now: this.#clock(),
        });
      } catch (error) {
        if (!isAnexError(error) || error.kind !== 'conflict' || attempt >= 3) throw error;
      }
    }
  }

  /** The pod's own pass, now: the exit is recorded, the pass destroys the instance. Never fails the report. */
  async #askForPass(record: PodRecord): Promise<void> {
    const message = {
      podUid: record.podUid,
      namespace: record.namespace,
      name: record.name,
      cause: 'agent-status' as const,
    };
    // The report is recorded either way: the next tick's pass does the same work.
    await this.#options.passes?.send(message).catch(() => undefined);
  }

  async #event(record: PodRecord, _kind: 'failed', report: StatusReport): Promise<void> {
    const ref = { namespace: record.namespace, name: record.name, uid: record.podUid };
    const message = `The agent on instance ${record.instance?.id ?? 'unknown'} failed: ${report.reason ?? 'no reason given'}`;
    await this.#options.cluster.recordEvent(ref, events.gaveUp(message), { now: this.#clock() });
  }
}

/** The record after an agent report; undefined when it changes nothing (reports are repeated until acknowledged). */
function applyReport(record: PodWrite, report: StatusReport, now: number): PodWrite | undefined {
  // The instance booted before the pass that rented it recorded it (crash, lost answer): keep the
  // start so the pass that adopts the instance knows the agent already reported.
  if (record.stage === 'creating' && report.state === 'started') {
    return record.startedAt === undefined ? change(record, { startedAt: now }) : undefined;
  }
  if (record.stage !== 'starting' && record.stage !== 'running') return undefined;
  switch (report.state) {
    case 'started':
      if (record.stage === 'running' && record.startedAt !== undefined) return undefined;
      return change(record, { stage: 'running', startedAt: record.startedAt ?? now });
    case 'exited':
      if (record.exitCode !== undefined) return undefined;
      return change(record, {
        stage: 'running',
        exitCode: report.exitCode ?? 1,
        startedAt: record.startedAt ?? now,
      });
    case 'failed': {
      const lastError = `The agent failed: ${report.reason ?? 'no reason given'}`;
      return record.lastError === lastError ? undefined : change(record, { lastError });
    }
  }
}
