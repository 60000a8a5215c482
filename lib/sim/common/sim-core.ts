import { setTimeout as sleep } from 'node:timers/promises';
import { type DownMode, FaultBox } from './faults.ts';
import { bearerToken, SimHttpServer, type SimRequest, type SimResponse } from './http-server.ts';
import { type RateDecision, type RateLimit, RateLimiter } from './rate-limit.ts';
import { Rng } from './rng.ts';

/** One API endpoint of a simulator. */
export interface SimRoute {
  /** Name used by faults and rate limits, e.g. `create`. */
  name: string;
  method: string;
  pattern: RegExp;
  /** false: answered without a key (a public catalog or search). */
  auth: boolean;
  run: (request: SimRequest, params: readonly string[]) => SimResponse | Promise<SimResponse>;
}

/** How a vendor shapes the answers that are not about the endpoint itself. */
export interface VendorStyle {
  unauthorized(request: SimRequest, route: SimRoute, hadKey: boolean): SimResponse;
  rateLimited(route: SimRoute, decision: RateDecision | undefined): SimResponse;
  serverError(status: number): SimResponse;
  notFound(request: SimRequest): SimResponse;
  /** Headers added to every authenticated answer (e.g. RateLimit headers). */
  extraHeaders?(decision: RateDecision | undefined): Record<string, string>;
}

/** Decides per request whether the vendor's rate limit refuses it (every request counts). */
export interface SimLimiter {
  check(endpoint: string, key: string): RateDecision | undefined;
  /** a test's fixed-window limit for `endpoint` (undefined: remove it) */
  set(endpoint: string, limit: RateLimit | undefined): void;
  reset(): void;
}

export interface SimCoreOptions {
  seed: number;
  /** Accepted API keys; empty or absent: any non-empty key. */
  apiKeys?: readonly string[];
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /** The vendor's own limiter; wins over `rateLimits`. @default fixed windows from `rateLimits` */
  limiter?: (now: () => number) => SimLimiter;
  now?: () => number;
}

/** A simulated instance whose container the provider's runtime has started (lib/sim/machines runs it). */
export interface RunningInstance {
  id: string;
  /** the env it was created with */
  env: Readonly<Record<string, string>>;
  /** the argv the provider's runtime started (lib/sim/common/container.ts); absent when it started nothing */
  argv?: readonly string[];
  /** the image reference the instance was created with */
  image?: string;
}

/** An instance as the leak check sees it. */
export interface SimInstanceSummary {
  id: string;
  label: string;
  state: string;
}

/** What every simulator exposes programmatically (tests) and under /__sim/ (CLI). */
export interface SimAdmin {
  liveInstances(): SimInstanceSummary[];
  reset(): void;
  adminAction(name: string, body: unknown): SimResponse | undefined;
}

/**
 * The request pipeline shared by both simulators: down mode → admin → routing → auth →
 * rate limit → injected faults (before or after processing) → the endpoint.
 */
export class SimCore {
  readonly faults: FaultBox;
  readonly limiter: SimLimiter;
  readonly server: SimHttpServer;
  readonly now: () => number;
  #down: DownMode = false;
  readonly #keys: readonly string[];
  readonly #served = new Map<string, number>();
  readonly #arrivals = new Map<string, number[]>();
  /** what GET /__sim/info answers (e.g. the marketplace's registry) */
  info: Record<string, string> = {};

  constructor(
    options: SimCoreOptions,
    parts: { routes: readonly SimRoute[]; style: VendorStyle; admin: SimAdmin },
  ) {
    this.now = options.now ?? Date.now;
    this.faults = new FaultBox(new Rng(options.seed ^ 0x5eed));
    this.limiter = options.limiter?.(this.now) ?? new RateLimiter(options.rateLimits ?? {}, this.now);
    this.#keys = options.apiKeys ?? [];
    const { routes, style, admin } = parts;
    this.server = new SimHttpServer((request) => this.#handle(request, routes, style, admin));
  }

  /** Requests that reached each route (by route name, e.g. `create`), whatever the answer: tests count calls with it. */
  requestCount(route: string): number {
    return this.#served.get(route) ?? 0;
  }

  /** When each request to `route` arrived (wall-clock ms), whatever the answer: the pacing bench reads it. */
  requestTimes(route: string): readonly number[] {
    return this.#arrivals.get(route) ?? [];
  }

  /** Down: `'503'` answers every API request 503; `'refuse'` closes the port. */
  async setDown(mode: DownMode): Promise<void> {
    this.#down = mode;
    if (mode === 'refuse') await this.server.close();
    else await this.server.reopen();
  }

  async #handle(request: SimRequest, routes: readonly SimRoute[], style: VendorStyle, admin: SimAdmin) {
    if (request.path.startsWith('/__sim/')) return this.#admin(request, admin);
    if (this.#down === '503') return style.serverError(503);
    const match = findRoute(routes, request);
    if (!match) return style.notFound(request);
    const { route, params } = match;
    this.#served.set(route.name, (this.#served.get(route.name) ?? 0) + 1);
    const arrivals = this.#arrivals.get(route.name) ?? [];
    arrivals.push(Date.now());
    this.#arrivals.set(route.name, arrivals);
    const key = bearerToken(request);
    if (route.auth && !this.#accepts(key)) return style.unauthorized(request, route, key !== undefined);
    const decision = this.limiter.check(route.name, key ?? '');
    const headers = style.extraHeaders?.(decision) ?? {};
    if (decision?.limited) return withHeaders(style.rateLimited(route, decision), headers);
    const fault = this.faults.take(route.name);
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    if (fault && !fault.after) return faultAnswer(fault, route, style, headers);
    const answer = withHeaders(await route.run(request, params), headers);
    return fault ? faultAnswer(fault, route, style, headers) : answer;
  }

  #accepts(key: string | undefined): boolean {
    if (!key) return false;
    return this.#keys.length === 0 || this.#keys.includes(key);
  }

  async #admin(request: SimRequest, admin: SimAdmin): Promise<SimResponse> {
    const name = request.path.slice('/__sim/'.length).replace(/\/$/, '');
    if (name === 'instances' && request.method === 'GET') return { status: 200, body: admin.liveInstances() };
    if (name === 'info' && request.method === 'GET') return { status: 200, body: this.info };
    if (request.method !== 'POST') return { status: 405, body: { error: 'use POST' } };
    if (name === 'reset') {
      admin.reset();
      return { status: 200, body: { ok: true } };
    }
    if (name === 'faults') return this.#adminFaults(request.body);
    if (name === 'down') {
      const mode = (request.body as { mode?: DownMode } | undefined)?.mode ?? false;
      if (mode === 'refuse')
        return { status: 400, body: { error: "'refuse' would close the admin API too" } };
      await this.setDown(mode);
      return { status: 200, body: { ok: true } };
    }
    return (
      admin.adminAction(name, request.body) ?? {
        status: 404,
        body: { error: `unknown admin action ${name}` },
      }
    );
  }

  #adminFaults(body: unknown): SimResponse {
    const input = (body ?? {}) as { inject?: unknown; rates?: unknown };
    if (Array.isArray(input.inject)) for (const fault of input.inject) this.faults.inject(fault);
    if (input.rates && typeof input.rates === 'object') this.faults.setRates(input.rates);
    return { status: 200, body: { ok: true } };
  }
}

function findRoute(routes: readonly SimRoute[], request: SimRequest) {
  for (const route of routes) {
    if (route.method !== request.method) continue;
    const match = route.pattern.exec(request.path);
    if (match) return { route, params: match.slice(1) };
  }
  return undefined;
}

function withHeaders(response: SimResponse, headers: Record<string, string>): SimResponse {
  return { ...response, headers: { ...headers, ...response.headers } };
}

function faultAnswer(
  fault: { action: string; status: number },
  route: SimRoute,
  style: VendorStyle,
  headers: Record<string, string>,
): SimResponse | 'hang' | 'reset' {
  if (fault.action === 'hang') return 'hang';
  if (fault.action === 'reset') return 'reset';
  if (fault.action === 'rate-limit') return withHeaders(style.rateLimited(route, undefined), headers);
  return withHeaders(style.serverError(fault.status), headers);
}
