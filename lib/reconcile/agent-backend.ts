import type { PodEventSink } from '../admission/pod-event.ts';
import { allowEgressDestinations } from '../annotations/allow-egress.ts';
import { isAnexError } from '../errors.ts';
import type { Cluster, ContainerView, PodEvent, PodView } from '../kube/cluster.ts';
import { podFields, resolveEnv } from '../kube/env.ts';
import { type AgentVolume, podMounts, resolveVolumes } from '../kube/volumes.ts';
import type { ProviderName } from '../offers/offer.ts';
import type { PodRecord, PodWrite, Store, TerminatedRun } from '../state/store.ts';
import {
  type AgentBackend,
  type AgentInitContainer,
  type AgentLaunch,
  type AttemptView,
  LaunchConfigError,
  type Liveness,
  type StatusReport,
} from '../tunnel/endpoint/types.ts';
import { events } from './events.ts';
import { applyInitReport, INIT_FAILED } from './init-runs.ts';
import { AGENT_FAILED, change, EVICTED, toWrite } from './plan-env.ts';
import { buildStatus, runView, sameStatus } from './status.ts';

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
   * container (registry unreachable): the container's own command and args, as given. `pod`:
   * whose imagePullSecrets a private image is read with (lib/images/pull-secrets.ts).
   */
  command?: (container: ContainerView, pod: PodView) => Promise<{ argv: readonly string[] } | undefined>;
  /**
   * Where an exit report asks for the pod's own pass (cause `agent-status`), so the instance
   * is destroyed — and RunPod, which restarts an exited container and bills on, stops billing —
   * without waiting for the next tick. Best effort: a lost request leaves it to the tick.
   * Unset: the tick only.
   */
  passes?: PodEventSink;
  /**
   * Forwarder pods give pods their cluster address (ADR 0024, ReconcileConfig.forwarding): the
   * status written from a report leaves podIP alone. @default false (podIP = the VPN address)
   */
  forwarding?: boolean;
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
    const resolved = await this.#options.command?.(container, live.pod).catch(() => undefined);
    // The provider starts the container in the image's WorkingDir already: the agent changes
    // directory only for the pod's own workingDir.
    const workingDir = container.workingDir;
    const grace = live.pod.terminationGracePeriodSeconds;
    return {
      podUid,
      transport: this.#options.transport[live.record.provider],
      command: resolved?.argv ?? container.command ?? [],
      args: resolved === undefined ? (container.args ?? []) : [],
      ...(workingDir === undefined ? {} : { workingDir }),
      env: await this.#env(live, container),
      ...(await this.#volumes(live)),
      ...(await this.#inits(live)),
      restartPolicy: live.pod.restartPolicy,
      ...(container.probes === undefined ? {} : { probes: container.probes }),
      ...(container.preStop === undefined ? {} : { preStop: container.preStop }),
      ...(container.ports === undefined ? {} : { ports: container.ports }),
      ...(grace === undefined ? {} : { terminationGracePeriodSeconds: grace }),
      ...this.#egress(live.pod),
    };
  }

  /** The pod's `anex.sh/allow-egress` as gateway destinations (ADR 0020); bad entries allow nothing. */
  #egress(pod: PodView): { allowEgress?: string[] } {
    const allowEgress = allowEgressDestinations(pod.annotations, pod.namespace);
    return allowEgress.length === 0 ? {} : { allowEgress };
  }

  /**
   * The container's environment: its plain values, or — when it reads Secrets, ConfigMaps or
   * pod fields — built now, as kubelet builds it (lib/kube/env.ts), for the bootstrap answer
   * only. Nothing of it is kept or logged.
   */
  async #env(
    live: { record: PodRecord; pod: PodView },
    container: ContainerView,
  ): Promise<Record<string, string>> {
    if (container.envSpec === undefined) return { ...container.env };
    const { pod, record } = live;
    const outcome = await resolveEnv(
      container.envSpec,
      podFields(pod, record.vpnAddress),
      container.resources ?? {},
      (kind, name) => this.#options.cluster.readEnvSource(pod.namespace, kind, name),
    );
    if (!outcome.ok) throw new LaunchConfigError(outcome.message);
    return outcome.env;
  }

  /** Init containers and sidecars: each with its own command (over the pod's image) and env. */
  async #inits(live: {
    record: PodRecord;
    pod: PodView;
  }): Promise<{ initContainers?: AgentInitContainer[] }> {
    const inits = live.pod.initContainers ?? [];
    if (inits.length === 0) return {};
    const out: AgentInitContainer[] = [];
    for (const init of inits) {
      const resolved = await this.#options.command?.(init, live.pod).catch(() => undefined);
      out.push({
        name: init.name,
        command: resolved?.argv ?? init.command ?? [],
        args: resolved === undefined ? (init.args ?? []) : [],
        ...(init.workingDir === undefined ? {} : { workingDir: init.workingDir }),
        env: await this.#env(live, init),
        ...(init.sidecar === true ? { sidecar: true } : {}),
        ...(init.probes === undefined ? {} : { probes: init.probes }),
        ...(init.preStop === undefined ? {} : { preStop: init.preStop }),
        ...(init.ports === undefined ? {} : { ports: init.ports }),
      });
    }
    return { initContainers: out };
  }

  /**
   * Every container's mounts with their files (one filesystem on the machine: the init
   * containers' and the app container's mounts together, a path once), read now
   * (lib/kube/volumes.ts) for the bootstrap answer only; a missing Secret, ConfigMap or key
   * fails the bootstrap as kubelet's mount does.
   */
  async #volumes(live: { record: PodRecord; pod: PodView }): Promise<{ volumes?: AgentVolume[] }> {
    const { pod, record } = live;
    const mounts = podMounts(pod);
    if (mounts.length === 0) return {};
    const outcome = await resolveVolumes(pod.volumes ?? [], mounts, {
      fields: podFields(pod, record.vpnAddress),
      resources: Object.fromEntries(pod.containers.map((c) => [c.name, c.resources ?? {}])),
      read: (kind, name) => this.#options.cluster.readSourceFiles(pod.namespace, kind, name),
    });
    if (!outcome.ok) throw new LaunchConfigError(outcome.message);
    return { volumes: outcome.volumes };
  }

  /** The record's current attempt (ADR 0021): a view even without a record (then nothing is accepted). */
  async attempt(podUid: string): Promise<AttemptView> {
    const record = await this.#options.store.getPod(podUid);
    const token = record?.agentToken;
    return {
      ...(token === undefined ? {} : { tokenHash: token.hash }),
      instanceBound: token?.instanceBound === true,
      ...(record?.instance === undefined ? {} : { instanceId: record.instance.id }),
      bootstrapped: record?.statusCredentialHash !== undefined,
    };
  }

  async saveStatusCredential(podUid: string, hash: string, tokenHash?: string): Promise<boolean> {
    let saved = false;
    await this.#update(podUid, (record) => {
      // Only while the attempt the token was checked against is still the current one.
      saved = tokenHash === undefined || record.agentToken?.hash === tokenHash;
      return saved ? change(record, { statusCredentialHash: hash }) : undefined;
    });
    return saved;
  }

  async getStatusCredentialHash(podUid: string): Promise<string | undefined> {
    return (await this.#options.store.getPod(podUid))?.statusCredentialHash;
  }

  async recordStatus(podUid: string, report: StatusReport, options: { now: number }): Promise<void> {
    const sidecars = report.container === undefined ? undefined : await this.#sidecars(podUid);
    const record = await this.#update(podUid, (current) =>
      applyReport(current, report, options.now, sidecars),
    );
    if (record === undefined) return;
    if (report.container !== undefined) {
      await this.#initReported(record, report);
      return;
    }
    switch (report.state) {
      case 'evicted':
        await this.#askForPass(record);
        return;
      case 'failed':
        await this.#event(record, events.gaveUp(agentFailed(record, report)));
        // A pod being deleted waits for its agent's exit; a failed agent sends none: its pass now.
        await this.#askForPass(record);
        return;
      case 'unhealthy':
        await this.#event(record, events.unhealthy(report.reason ?? `${report.probe} probe failed`), true);
        return;
      case 'exited':
        // The final end: the pod's own pass destroys the machine now, not at the next tick.
        if (record.exitCode !== undefined) {
          await this.#askForPass(record);
          return;
        }
        if (record.backoff !== undefined && record.backoff.seconds > 0) {
          const pod = `${record.namespace}/${record.name}`;
          await this.#event(record, events.backOff(pod, record.backoff.seconds), true);
        }
        await this.#writeRunning(podUid, record, options.now);
        return;
      case 'started':
      case 'ready':
        await this.#writeRunning(podUid, record, options.now, report.state === 'started');
        return;
    }
  }

  /** The pod's sidecars by name (init containers with restartPolicy Always). */
  async #sidecars(podUid: string): Promise<ReadonlySet<string>> {
    // Also while the pod is being deleted: that is when sidecars report their final exits.
    const record = await this.#options.store.getPod(podUid);
    const found =
      record === undefined ? undefined : await this.#options.cluster.getPod(record.namespace, record.name);
    const pod = found?.uid === podUid ? found : undefined;
    return new Set((pod?.initContainers ?? []).filter((c) => c.sidecar === true).map((c) => c.name));
  }

  /**
   * An init container or sidecar changed: its events, and the pod's own pass so its
   * initContainerStatuses (and a failed init container's end) show now, not at the next tick.
   */
  async #initReported(record: PodRecord, report: StatusReport): Promise<void> {
    const name = report.container ?? '';
    if (report.state === 'unhealthy') {
      await this.#event(record, events.unhealthy(report.reason ?? `${report.probe} probe failed`), true);
      return;
    }
    if (report.state === 'started') await this.#event(record, events.initStarted(name));
    if (report.state === 'exited' && (report.restartInSeconds ?? 0) > 0) {
      const pod = `${record.namespace}/${record.name}`;
      await this.#event(record, events.backOff(pod, report.restartInSeconds ?? 0, name), true);
    }
    if (record.failureReason === INIT_FAILED || report.state !== 'ready') await this.#askForPass(record);
  }

  /**
   * The running pod's status straight from a report (a start, an exit the agent restarts
   * from, a readiness change), so kubectl shows it without waiting for the next pass; the
   * pass builds the same status from the same record, so nothing flaps.
   */
  async #writeRunning(podUid: string, record: PodRecord, now: number, announce = false): Promise<void> {
    // Reported before the pass recorded the instance (adoption pending): the pass says Running once it has.
    if (record.stage !== 'running' || record.startedAt === undefined) return;
    const pod = await this.#options.cluster.getPod(record.namespace, record.name);
    if (pod?.uid !== podUid || pod.deletionTimestamp !== undefined) return;
    if (announce) {
      await this.#options.cluster.recordEvent(pod, events.started(record.instance?.id ?? 'unknown'), { now });
    }
    const status = buildStatus({
      pod,
      situation: { kind: 'running', startedAt: record.startedAt },
      now,
      ...(record.vpnAddress === undefined || this.#options.forwarding === true
        ? {}
        : { podIP: record.vpnAddress }),
      run: runView(record),
    });
    if (!sameStatus(pod.status, status)) await this.#options.cluster.updatePodStatus(pod, status);
  }

  async liveness(podUid: string): Promise<Liveness> {
    const stop = { alive: false as const, graceSeconds: 0 };
    const record = await this.#options.store.getPod(podUid);
    if (record === undefined || ['finished', 'terminating', 'releasing'].includes(record.stage)) return stop;
    const pod = await this.#options.cluster.getPod(record.namespace, record.name);
    if (pod?.uid !== podUid) return stop;
    if (pod.deletionTimestamp !== undefined) {
      // The API server waits until deletionTimestamp: the grace left is the agent's to use.
      const left = Math.floor((Date.parse(pod.deletionTimestamp) - this.#clock()) / 1000);
      return { alive: false, graceSeconds: Math.max(0, left) };
    }
    return { alive: true };
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

  async #event(record: PodRecord, event: PodEvent, bestEffort = false): Promise<void> {
    const ref = { namespace: record.namespace, name: record.name, uid: record.podUid };
    const write = this.#options.cluster.recordEvent(ref, event, { now: this.#clock() });
    await (bestEffort ? write.catch(() => undefined) : write);
  }
}

function agentFailed(record: PodRecord, report: StatusReport): string {
  // The reason is the host's own words (sanitized at the endpoint): said as such (L6).
  return `The agent on instance ${record.instance?.id ?? 'unknown'} failed (reported by the host): ${report.reason ?? 'no reason given'}`;
}

/**
 * The record after an agent report; undefined when it changes nothing. Reports are repeated
 * until acknowledged and may arrive late: a report about a run older than the recorded one
 * (`restartCount` < `agentRun`) changes nothing, nor does anything after the final exit, and
 * each change is made once.
 */
export function applyReport(
  record: PodWrite,
  report: StatusReport,
  now: number,
  sidecars?: ReadonlySet<string>,
): PodWrite | undefined {
  // The instance booted before the pass that rented it recorded it (crash, lost answer): keep the
  // start so the pass that adopts the instance knows the agent already reported.
  if (record.stage === 'creating' && report.state === 'started') {
    return record.startedAt === undefined ? change(record, { startedAt: now }) : undefined;
  }
  // Init containers and sidecars run before the app container: possibly while the record is 'creating'.
  if (report.container !== undefined)
    return ['creating', 'starting', 'running'].includes(record.stage)
      ? applyInitReport(record, report, now, sidecars)
      : undefined;
  if (record.stage !== 'starting' && record.stage !== 'running') return undefined;
  if (report.state === 'evicted') {
    // kubelet's eviction: the pod fails whatever its restartPolicy; the pass destroys the machine.
    const lastError = report.message ?? 'The pod was evicted';
    return record.failureReason === EVICTED
      ? undefined
      : change(record, { failureReason: EVICTED, lastError });
  }
  const run = report.restartCount ?? 0;
  if (run < (record.agentRun ?? 0) || record.exitCode !== undefined) return undefined;
  switch (report.state) {
    case 'started':
      return started(record, run, now);
    case 'exited':
      if (report.restartInSeconds !== undefined) return restarting(record, report, now);
      return change(
        record,
        {
          stage: 'running',
          exitCode: report.exitCode ?? 1,
          agentRun: run,
          startedAt: record.startedAt ?? now,
        },
        ['backoff'],
      );
    case 'ready':
      if (run !== (record.agentRun ?? 0) || report.ready === undefined || record.ready === report.ready)
        return undefined;
      return change(record, { ready: report.ready });
    case 'unhealthy':
      return undefined;
    case 'failed': {
      const lastError = `${AGENT_FAILED} (reported by the host): ${report.reason ?? 'no reason given'}`;
      return record.lastError === lastError ? undefined : change(record, { lastError });
    }
  }
}

/** A run started: the first, or a restart in place (a new run number, or the end of a back-off). */
function started(record: PodWrite, run: number, now: number): PodWrite | undefined {
  const fresh = run > (record.agentRun ?? 0) || record.backoff !== undefined;
  const known = record.stage === 'running' && record.startedAt !== undefined && record.agentRun === run;
  if (!fresh && known) return undefined;
  return change(
    record,
    { stage: 'running', agentRun: run, startedAt: fresh ? now : (record.startedAt ?? now) },
    fresh ? ['backoff', 'ready'] : [],
  );
}

/** A run ended and the agent restarts it in place after `restartInSeconds`: CrashLoopBackOff, lastState. */
function restarting(record: PodWrite, report: StatusReport, now: number): PodWrite | undefined {
  const run = report.restartCount ?? 0;
  if (run === (record.agentRun ?? 0) && record.backoff !== undefined) return undefined;
  const code = report.exitCode ?? 1;
  const seconds = report.restartInSeconds ?? 0;
  const lastTerminated: TerminatedRun = {
    exitCode: code,
    reason: terminatedReason(code, report.reason),
    finishedAt: now,
    ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
    ...(report.reason === 'Unhealthy'
      ? { message: 'The container failed its liveness probe and was restarted' }
      : {}),
  };
  return change(
    record,
    { stage: 'running', agentRun: run, lastTerminated, backoff: { seconds, until: now + seconds * 1000 } },
    ['ready'],
  );
}

/** kubelet's terminated reasons: Completed for 0, OOMKilled when the agent could tell, else Error. */
function terminatedReason(code: number, said: string | undefined): string {
  if (said === 'OOMKilled') return 'OOMKilled';
  return code === 0 ? 'Completed' : 'Error';
}
