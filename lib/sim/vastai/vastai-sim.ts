import { paceScaleFromEnv } from '../../providers/pacing/interval-pacer.ts';
import { BootPlans } from '../common/boot-plans.ts';
import { type ContainerStart, withPlatformEnv } from '../common/container.ts';
import { bearerToken, type SimRequest, type SimResponse } from '../common/http-server.ts';
import type { RateLimit } from '../common/rate-limit.ts';
import { SimBase } from '../common/sim-base.ts';
import type { RunningInstance, SimInstanceSummary, VendorStyle } from '../common/sim-core.ts';
import { statusAt, type VastBootPlan, type VastTimings } from './instances.ts';
import { generateMarket } from './marketplace.ts';
import { VastLimiter } from './pace-limits.ts';
import { type VastState, vastRoutes } from './routes.ts';

/** The variable Vast sets in every container to the instance's id. */
export const VAST_INSTANCE_ID_ENV = 'CONTAINER_ID';

export interface VastAiSimOptions {
  /** @default 1 */
  seed?: number;
  /** Offers in the market (the real one has thousands of rows). @default 2000 */
  offers?: number;
  /** @default 0 (a free port) */
  port?: number;
  /** Accepted keys; empty: any non-empty key. */
  apiKeys?: readonly string[];
  /**
   * Extra fixed-window limits per endpoint (`search`, `create`, `show`, `list`, `destroy`),
   * checked before Vast's own ({@link VAST_LIMITS}). @default none
   */
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /**
   * Vast's own limits (minimum intervals, the create penalty, search per minute) are on by
   * default; `false` turns them off for a test that is about something else and says why.
   */
  paceLimits?: boolean;
  /** Multiplies Vast's intervals (tests). @default ANEX_SIM_PACE_SCALE, else 1 */
  paceScale?: number;
  /** @default { provisionMs: 5, loadingMs: 20 } */
  timings?: Partial<VastTimings>;
  now?: () => number;
  /** How long a `request_logs` upload takes to appear at its `result_url`. @default 300 */
  logUploadMs?: number;
}

/** Thresholds Vast names in its 429 text (docs `x-rate-limit`). */
const THRESHOLDS: Record<string, string> = {
  create: '4.5',
  show: '2.0',
  list: '1.0',
  destroy: '3.0',
  search: '1.0',
};

const vastStyle: VendorStyle = {
  unauthorized: () => ({
    status: 401,
    body: { success: false, error: 'auth_error', msg: 'Invalid user key' },
  }),
  rateLimited: (route) =>
    route.name === 'destroy'
      ? {
          status: 429,
          body: {
            success: false,
            error: 'rate_limit_exceeded',
            msg: `API requests too frequent endpoint threshold=${THRESHOLDS.destroy}`,
          },
        }
      : // Plain text and no Retry-After, as the real service answers.
        {
          status: 429,
          body: `API requests too frequent endpoint threshold=${THRESHOLDS[route.name] ?? '1.0'}`,
        },
  serverError: (status) =>
    status === 502 || status === 504
      ? { status, body: `<html><body><h1>${status} Bad Gateway</h1></body></html>`, contentType: 'text/html' }
      : { status, body: { success: false, error: 'server_error', msg: 'Internal server error' } },
  notFound: (request) => ({
    status: 404,
    body: { success: false, error: 'not_found', msg: `no route for ${request.method} ${request.path}` },
  }),
};

/**
 * A Vast.ai marketplace on 127.0.0.1 speaking the endpoints anex uses, with a seeded market,
 * instances that boot over time, fault injection and a leak check. Tests drive it through
 * this object; the CLI through `/__sim/`.
 */
export class VastAiSim extends SimBase<VastState> {
  #limiter: VastLimiter | undefined;

  constructor(options: VastAiSimOptions = {}) {
    // Rate limits are about requests on the wire: real time, even when a test drives the
    // instances' boot on a clock of its own.
    const limiter = () => {
      const made = new VastLimiter({
        now: Date.now,
        enabled: options.paceLimits ?? true,
        ...(options.rateLimits === undefined ? {} : { overrides: options.rateLimits }),
        scale: options.paceScale ?? paceScaleFromEnv(process.env) ?? 1,
      });
      // Set before super() returns; read only by ratePenalties().
      pending = made;
      return made;
    };
    let pending: VastLimiter | undefined;
    super({
      core: { seed: options.seed ?? 1, ...pick(options), limiter },
      port: options.port,
      fresh: () => freshState(options),
      routes: vastRoutes,
      style: vastStyle,
      leak: { who: 'vastai simulator', unit: 'instance' },
    });
    this.#limiter = pending;
  }

  /** 429s that shut create for Vast's penalty (a client that paces right draws none). */
  ratePenalties(): number {
    return this.#limiter?.penalties ?? 0;
  }

  /** 429s Vast's own limits answered (intervals, penalty, search per minute), on one route or all. */
  limitedCount(route?: string): number {
    if (route !== undefined) return this.#limiter?.refusalsBy.get(route) ?? 0;
    return this.#limiter?.refusals ?? 0;
  }

  /** Instances later created on this machine behave per `plan`. */
  setMachinePlan(machineId: number, plan: VastBootPlan): void {
    this.state.plans.setHost(machineId, plan);
  }

  /** Instances later created with this image behave per `plan` (wins over the machine's). */
  setImagePlan(image: string, plan: VastBootPlan): void {
    this.state.plans.setImage(image, plan);
  }

  setCredit(usd: number): void {
    this.state.credit = usd;
  }

  /** Instances later created on this machine bill `usdPerHour` more than their ask said (a host that repriced). */
  billAbove(machineId: number, usdPerHour: number): void {
    this.state.markups.set(machineId, usdPerHour);
  }

  /** Adds a row to the account's instance list that anex cannot read as an instance. */
  addOddRow(row: unknown): void {
    this.state.oddRows.push(row);
  }

  /** Another renter takes the ask (the market race). */
  takeAsk(askId: number): void {
    const ask = this.state.asks.get(askId);
    if (ask) ask.taken = true;
  }

  /** The stored row of an ask, for assertions. */
  ask(askId: number): Readonly<Record<string, unknown>> | undefined {
    return this.state.asks.get(askId)?.row;
  }

  /** Instances whose container is running now, with their env (CONTAINER_ID included) and argv (lib/sim/machines runs them). */
  runningInstances(): RunningInstance[] {
    const now = this.core.now();
    return [...this.state.instances.values()]
      .filter((r) => !r.destroyed && statusAt(r, now, this.state.timings).actual === 'running')
      .map((r) => ({
        id: String(r.id),
        // Vast sets CONTAINER_ID, the instance id, in every container (docs.vast.ai
        // guides/instances/docker-environment; vast audit 2026-12): after the request's env, as
        // the platform's own variable.
        env: { ...r.env, [VAST_INSTANCE_ID_ENV]: String(r.id) },
        image: r.image,
        ...(r.container?.ok ? { argv: r.container.launch.argv } : {}),
      }));
  }

  /**
   * The container of instance `id` ended (a simulated machine ran it): the instance goes
   * `exited` and stays rented (billing for its disk) until destroyed; Vast restarts nothing.
   */
  containerExited(id: string, code: number | null): 'restart' | 'stop' {
    const record = this.state.instances.get(Number(id));
    if (record !== undefined && record.exit === undefined) record.exit = { at: this.core.now(), code };
    return 'stop';
  }

  /**
   * The host of running instance `id` drops off the network (a host lost mid-run): from now
   * on the instance shows `actual_status: offline` — the state vast-cli's docs list for a host
   * that is down, the same one the `offline` boot plan reaches (its contract test) — and its
   * container stops running, so the simulated machine is stopped.
   */
  loseHost(id: string): void {
    const record = this.state.instances.get(Number(id));
    if (record === undefined || record.destroyed) throw new Error(`no live instance ${id}`);
    record.plan = 'offline';
  }

  /** The machine runner's reader of each instance's container output: what `request_logs` uploads. */
  readContainerLogs(read: (id: string) => string | undefined): void {
    this.state.containerLog = read;
  }

  /** How the runtime starts (or fails to start) instance `id`'s container; undefined for an unknown instance or image. */
  containerOf(id: string): ContainerStart | undefined {
    // The container runs with the instance id Vast sets in every container (CONTAINER_ID).
    return withPlatformEnv(this.state.instances.get(Number(id))?.container, { [VAST_INSTANCE_ID_ENV]: id });
  }

  liveInstances(): SimInstanceSummary[] {
    const now = this.core.now();
    return [...this.state.instances.values()]
      .filter((r) => !r.destroyed)
      .map((r) => ({
        id: String(r.id),
        label: r.label ?? '',
        state: statusAt(r, now, this.state.timings).actual ?? 'null',
      }));
  }

  adminAction(name: string, body: unknown): SimResponse | undefined {
    const input = (body ?? {}) as { machineId?: number; image?: string; plan?: VastBootPlan; usd?: number };
    if (name === 'machine-plan' && input.machineId !== undefined && input.plan) {
      this.setMachinePlan(input.machineId, input.plan);
    } else if (name === 'image-plan' && input.image && input.plan) {
      this.setImagePlan(input.image, input.plan);
    } else if (name === 'credit' && typeof input.usd === 'number') {
      this.setCredit(input.usd);
    } else return undefined;
    return { status: 200, body: { ok: true } };
  }
}

function freshState(options: VastAiSimOptions): VastState {
  const { asks, machines } = generateMarket(options.seed ?? 1, options.offers ?? 2000);
  const keys = options.apiKeys ?? [];
  return {
    asks,
    machines,
    instances: new Map(),
    plans: new BootPlans(),
    credit: 100,
    nextInstanceId: 9_500_000,
    timings: { provisionMs: 5, loadingMs: 20, ...options.timings },
    now: options.now ?? Date.now,
    oddRows: [],
    markups: new Map(),
    logUploads: new Map(),
    logUploadMs: options.logUploadMs ?? 300,
    badKey: (request: SimRequest) => {
      const key = bearerToken(request);
      return key !== undefined && keys.length > 0 && !keys.includes(key);
    },
  };
}

function pick(options: VastAiSimOptions) {
  return {
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}
