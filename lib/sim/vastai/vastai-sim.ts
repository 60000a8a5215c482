import type { DownMode, Fault, FaultRates } from '../common/faults.ts';
import { bearerToken, type SimRequest, type SimResponse } from '../common/http-server.ts';
import type { RateLimit } from '../common/rate-limit.ts';
import { SimCore, type SimInstanceSummary, type VendorStyle } from '../common/sim-core.ts';
import { statusAt, type VastBootPlan, type VastTimings } from './instances.ts';
import { generateMarket } from './marketplace.ts';
import { type VastState, vastRoutes } from './routes.ts';

export interface VastAiSimOptions {
  /** @default 1 */
  seed?: number;
  /** Offers in the market. @default 500 */
  offers?: number;
  /** @default 0 (a free port) */
  port?: number;
  /** Accepted keys; empty: any non-empty key. */
  apiKeys?: readonly string[];
  /** Per endpoint (`search`, `create`, `show`, `list`, `destroy`). @default none */
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /** @default { provisionMs: 5, loadingMs: 20 } */
  timings?: Partial<VastTimings>;
  now?: () => number;
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
export class VastAiSim {
  readonly #options: VastAiSimOptions;
  readonly #core: SimCore;
  /** One object for the life of the simulator; reset() refills it, so routes keep their reference. */
  readonly #state: VastState;

  constructor(options: VastAiSimOptions = {}) {
    this.#options = options;
    this.#state = this.#freshState();
    this.#core = new SimCore(
      { seed: options.seed ?? 1, ...pick(options) },
      { routes: vastRoutes(this.#state), style: vastStyle, admin: this },
    );
  }

  async start(): Promise<string> {
    await this.#core.server.listen(this.#options.port ?? 0);
    return this.url;
  }

  async stop(): Promise<void> {
    await this.#core.server.close();
  }

  get url(): string {
    return this.#core.server.url;
  }

  inject(fault: Fault): void {
    this.#core.faults.inject(fault);
  }

  setFaultRates(rates: FaultRates): void {
    this.#core.faults.setRates(rates);
  }

  setRateLimit(endpoint: string, limit: RateLimit | undefined): void {
    this.#core.limiter.set(endpoint, limit);
  }

  setDown(mode: DownMode): Promise<void> {
    return this.#core.setDown(mode);
  }

  /** Instances later created on this machine behave per `plan`. */
  setMachinePlan(machineId: number, plan: VastBootPlan): void {
    this.#state.machinePlans.set(machineId, plan);
  }

  /** Instances later created with this image behave per `plan` (wins over the machine's). */
  setImagePlan(image: string, plan: VastBootPlan): void {
    this.#state.imagePlans.set(image, plan);
  }

  setCredit(usd: number): void {
    this.#state.credit = usd;
  }

  /** Another renter takes the ask (the market race). */
  takeAsk(askId: number): void {
    const ask = this.#state.asks.get(askId);
    if (ask) ask.taken = true;
  }

  /** The stored row of an ask, for assertions. */
  ask(askId: number): Readonly<Record<string, unknown>> | undefined {
    return this.#state.asks.get(askId)?.row;
  }

  /** Every instance not destroyed: the leak check. */
  liveInstances(): SimInstanceSummary[] {
    const now = this.#core.now();
    return [...this.#state.instances.values()]
      .filter((r) => !r.destroyed)
      .map((r) => ({
        id: String(r.id),
        label: r.label ?? '',
        state: statusAt(r, now, this.#state.timings).actual ?? 'null',
      }));
  }

  /** Throws when any instance is still alive (use in afterEach). */
  assertNoInstances(): void {
    const live = this.liveInstances();
    if (live.length > 0) {
      throw new Error(`vastai simulator: ${live.length} instance(s) leaked: ${JSON.stringify(live)}`);
    }
  }

  reset(): void {
    Object.assign(this.#state, this.#freshState());
    this.#core.faults.clear();
    this.#core.limiter.reset();
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

  #freshState(): VastState {
    const { asks, machines } = generateMarket(this.#options.seed ?? 1, this.#options.offers ?? 500);
    const keys = this.#options.apiKeys ?? [];
    return {
      asks,
      machines,
      instances: new Map(),
      machinePlans: new Map(),
      imagePlans: new Map(),
      credit: 100,
      nextInstanceId: 9_500_000,
      timings: { provisionMs: 5, loadingMs: 20, ...this.#options.timings },
      now: this.#options.now ?? Date.now,
      badKey: (request: SimRequest) => {
        const key = bearerToken(request);
        return key !== undefined && keys.length > 0 && !keys.includes(key);
      },
    };
  }
}

function pick(options: VastAiSimOptions) {
  return {
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}
