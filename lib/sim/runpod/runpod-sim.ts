import { paceScaleFromEnv } from '../../providers/pacing/interval-pacer.ts';
import { BootPlans } from '../common/boot-plans.ts';
import { type ContainerStart, withPlatformEnv } from '../common/container.ts';
import type { SimResponse } from '../common/http-server.ts';
import type { RateLimit } from '../common/rate-limit.ts';
import { Rng } from '../common/rng.ts';
import { SimBase } from '../common/sim-base.ts';
import type { RunningInstance, SimInstanceSummary, VendorStyle } from '../common/sim-core.ts';
import { type Cloud, generateStock, stockKey } from './catalog.ts';
import { phaseAt, type RunPodBootPlan, type RunPodTimings } from './pods.ts';
import { type RunPodDecision, RunPodLimiter, rateLimitHeaders } from './rate-windows.ts';
import { problem, type RunPodState, runPodRoutes } from './routes.ts';

/** The variable RunPod sets in every pod to the pod's id. */
export const RUNPOD_INSTANCE_ID_ENV = 'RUNPOD_POD_ID';

export interface RunPodSimOptions {
  /** @default 1 */
  seed?: number;
  /** @default 0 (a free port) */
  port?: number;
  /** Accepted keys; empty: any non-empty key. */
  apiKeys?: readonly string[];
  /**
   * Extra fixed-window limits per endpoint (`gpus`, `datacenters`, `create`, `list`, `get`,
   * `delete`), checked before RunPod's own ({@link RUNPOD_WINDOWS}). @default none
   */
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /** RunPod's own limits (60/min, 3000/h, 50000/day per key) are on by default; `false` turns them off (say why). */
  paceLimits?: boolean;
  /** Multiplies RunPod's windows (tests). @default ANEX_SIM_PACE_SCALE, else 1 */
  paceScale?: number;
  /** @default { provisionMs: 5, startingMs: 10, portsMs: 10 } */
  timings?: Partial<RunPodTimings>;
  /** Page size of `GET /v2/pods`; unset: one page, no `pagination`. */
  podsPageSize?: number;
  now?: () => number;
}

interface AdminInput {
  gpuTypeId?: string;
  image?: string;
  plan?: RunPodBootPlan;
  usd?: number;
  forbidden?: boolean;
}

const runPodStyle: VendorStyle = {
  unauthorized: (_request, _route, hadKey) =>
    problem(401, hadKey ? 'invalid API key' : 'missing bearer token in the Authorization header'),
  rateLimited: (_route, decision) => {
    const window = (decision as RunPodDecision | undefined)?.refusedBy ?? 'minute';
    const answer = problem(429, `rate limit exceeded for the ${window} window`);
    return { ...answer, headers: { 'Retry-After': String(decision?.resetSeconds ?? 1) } };
  },
  serverError: (status) => problem(status, 'upstream error, try again later'),
  notFound: (request) => problem(404, `no route for ${request.method} ${request.path}`),
  extraHeaders: rateLimitHeaders,
};

/**
 * A RunPod REST v2 marketplace on 127.0.0.1: a seeded catalog with stock that creates consume,
 * pods that boot over time, problem+json errors, RateLimit headers, fault injection and a leak
 * check. Tests drive it through this object; the CLI through `/__sim/`.
 */
export class RunPodSim extends SimBase<RunPodState> {
  #limiter: RunPodLimiter | undefined;
  readonly #logStreams: Set<object>;

  constructor(options: RunPodSimOptions = {}) {
    let made: RunPodLimiter | undefined;
    // One set for the simulator's life: a reset must not lose sight of streams still open.
    const logStreams = new Set<object>();
    // Rate limits count requests on the wire: real time, even when a test drives boots on its own clock.
    const limiter = () => {
      made = new RunPodLimiter({
        now: Date.now,
        enabled: options.paceLimits ?? true,
        scale: options.paceScale ?? paceScaleFromEnv(process.env) ?? 1,
        ...(options.rateLimits === undefined ? {} : { overrides: options.rateLimits }),
      });
      return made;
    };
    super({
      core: {
        seed: options.seed ?? 1,
        limiter,
        ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
        ...(options.now ? { now: options.now } : {}),
      },
      port: options.port,
      fresh: () => freshState(options, logStreams),
      routes: runPodRoutes,
      style: runPodStyle,
      leak: { who: 'runpod simulator', unit: 'pod' },
    });
    this.#limiter = made;
    this.#logStreams = logStreams;
  }

  /** `GET /v2/pods/{id}/logs` streams still open: 0 once their clients went away (or at stop). */
  openLogStreams(): number {
    return this.#logStreams.size;
  }

  /** 429s RunPod's own windows answered. */
  limitedCount(): number {
    return this.#limiter?.refusals ?? 0;
  }

  /** The account's registry credentials (tests read what anex made and swept). */
  registryCredentials(): readonly { id: string; name: string; username: string; password: string }[] {
    return [...this.state.registries.values()].map((r) => ({ ...r }));
  }

  /** Pods later created on this GPU type behave per `plan`. */
  setGpuPlan(gpuTypeId: string, plan: RunPodBootPlan): void {
    this.state.plans.setHost(gpuTypeId, plan);
  }

  /** Pods later created with this image behave per `plan` (wins over the GPU type's). */
  setImagePlan(image: string, plan: RunPodBootPlan): void {
    this.state.plans.setImage(image, plan);
  }

  /** Creates on this GPU type's pool answer 403 (`forbidden: false` lifts it); reads are unaffected. */
  setPoolForbidden(gpuTypeId: string, forbidden = true): void {
    if (forbidden) this.state.forbiddenPools.add(gpuTypeId);
    else this.state.forbiddenPools.delete(gpuTypeId);
  }

  /**
   * Creates of this GPU type in this data center answer 400 with `detail` — a cross-field rule
   * the placement breaks (v2 `POST /v2/pods` 400: "try your next candidate").
   */
  refusePlacement(gpuTypeId: string, dataCenterId: string, detail: string): void {
    this.state.refusedPlacements.set(`${gpuTypeId}|${dataCenterId}`, detail);
  }

  /** `key` may read but not create: every create answers the spec's scope 403. */
  setReadOnlyKey(key: string): void {
    this.state.readOnlyKeys.add(key);
  }

  /** Pods later created on this GPU type bill `usdPerHour` above the list price (`cost`), as a repriced host would. */
  billAbove(gpuTypeId: string, usdPerHour: number): void {
    this.state.markups.set(gpuTypeId, usdPerHour);
  }

  /**
   * Adds a row to every GPU list that anex cannot read as a GPU type (e.g.
   * {@link UNKNOWN_SENTINEL_ROW}, or a row with an availability value added upstream).
   */
  addOddRow(row: unknown): void {
    this.state.oddGpuRows.push(row);
  }

  setBalance(usd: number): void {
    this.state.balance = usd;
  }

  /** Sets the free GPUs of one (type, data center, cloud): 0 makes creates there fail for capacity. */
  setStock(gpuTypeId: string, dataCenterId: string, cloud: Cloud, free: number): void {
    this.state.stock.set(stockKey(gpuTypeId, dataCenterId, cloud), free);
  }

  setPodsPageSize(size: number | undefined): void {
    this.state.podsPageSize = size;
  }

  /** Pods whose container is running now (RUNNING with a runtime), with their env. */
  runningInstances(): RunningInstance[] {
    const now = this.core.now();
    return [...this.state.pods.values()]
      .filter((p) => {
        const phase = phaseAt(p, now, this.state.timings);
        return !p.terminated && phase.status === 'RUNNING' && phase.uptimeMs !== undefined;
      })
      .map((p) => ({
        id: p.id,
        // RunPod sets RUNPOD_POD_ID, the pod's id, in every pod (docs.runpod.io
        // pods/templates/environment-variables; runpod audit 2026-12).
        env: { ...p.env, [RUNPOD_INSTANCE_ID_ENV]: p.id },
        image: p.image,
        ...(p.container?.ok ? { argv: p.container.launch.argv } : {}),
      }));
  }

  /**
   * The container of pod `id` ended: RunPod restarts it — status stays RUNNING, uptime resets,
   * billing goes on (runpod audit #7, measured on a real pod). Only terminate ends it.
   */
  /** How often RunPod restarted pod `id`'s container (0 for an unknown pod). */
  containerRestarts(id: string): number {
    return this.state.pods.get(id)?.restarts?.count ?? 0;
  }

  containerExited(id: string, _code: number | null): 'restart' | 'stop' {
    const pod = this.state.pods.get(id);
    if (pod === undefined || pod.terminated) return 'stop';
    pod.restarts = { count: (pod.restarts?.count ?? 0) + 1, lastAt: this.core.now() };
    return 'restart';
  }

  /** The machine runner's reader of each pod's container output: the `container` source of the logs API. */
  readContainerLogs(read: (id: string) => string | undefined): void {
    this.state.containerLog = read;
  }

  /** How the runtime starts (or fails to start) pod `id`'s container; undefined for an unknown pod or image. */
  containerOf(id: string): ContainerStart | undefined {
    // The container runs with the pod id RunPod sets in every pod (RUNPOD_POD_ID).
    return withPlatformEnv(this.state.pods.get(id)?.container, { [RUNPOD_INSTANCE_ID_ENV]: id });
  }

  liveInstances(): SimInstanceSummary[] {
    const now = this.core.now();
    return [...this.state.pods.values()]
      .filter((p) => !p.terminated)
      .map((p) => ({ id: p.id, label: p.name, state: phaseAt(p, now, this.state.timings).status }));
  }

  adminAction(name: string, body: unknown): SimResponse | undefined {
    const input = (body ?? {}) as AdminInput;
    if (name === 'gpu-plan' && input.gpuTypeId && input.plan) this.setGpuPlan(input.gpuTypeId, input.plan);
    else if (name === 'forbid-pool' && input.gpuTypeId)
      this.setPoolForbidden(input.gpuTypeId, input.forbidden ?? true);
    else if (name === 'image-plan' && input.image && input.plan) this.setImagePlan(input.image, input.plan);
    else if (name === 'balance' && typeof input.usd === 'number') this.setBalance(input.usd);
    else return undefined;
    return { status: 200, body: { ok: true } };
  }
}

function freshState(options: RunPodSimOptions, logStreams: Set<object>): RunPodState {
  const seed = options.seed ?? 1;
  return {
    logStreams,
    stock: generateStock(seed),
    pods: new Map(),
    registries: new Map(),
    plans: new BootPlans(),
    forbiddenPools: new Set(),
    refusedPlacements: new Map(),
    readOnlyKeys: new Set(),
    markups: new Map(),
    oddGpuRows: [],
    balance: 100,
    timings: { provisionMs: 5, startingMs: 10, portsMs: 10, ...options.timings },
    podsPageSize: options.podsPageSize,
    rng: new Rng(seed ^ 0x9e3779b9),
    now: options.now ?? Date.now,
  };
}
