import { setTimeout as sleepTimer } from 'node:timers/promises';
import { AnexError } from '../../errors.ts';
import { type BackoffPolicy, fullJitterDelay, parseRetryAfter } from './backoff.ts';
import { redactText, redactUrl } from './redact.ts';
import type { HttpResponse } from './response.ts';

/**
 * How a request may be repeated.
 * - `idempotent`: reads and deletes; 429, 5xx, timeouts and network errors are retried with
 *   backoff while attempts and the deadline allow.
 * - `create`: sent at most once; only a 429 (refused before processing) is resent. Any other
 *   ambiguous failure throws kind `unknown-outcome` and a 5xx is returned to the adapter,
 *   which must treat it as unknown outcome too (it may carry an instance id).
 */
export type RetryMode = 'idempotent' | 'create';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below the base URL, e.g. `/api/v0/instances/42/`. */
  path: string;
  query?: Readonly<Record<string, string | undefined>>;
  body?: unknown;
  mode: RetryMode;
  signal?: AbortSignal | undefined;
  /** Epoch ms; no attempt starts after it and no wait runs past it. */
  deadline?: number | undefined;
  /** This request's per-attempt timeout, over the client's `timeoutMs`; the deadline still cuts it short. */
  timeoutMs?: number;
  /**
   * The vendor's rate-limit bucket this request counts against (e.g. Vast `create`), for the
   * {@link RequestPacer}. Requests without one are not paced.
   */
  endpoint?: string;
}

/**
 * Spaces requests out to fit the vendor's rate limits (lib/providers/pacing). The client asks
 * it before every attempt — retries included — and tells it every answer.
 */
export interface RequestPacer {
  /**
   * Resolves when a request to `endpoint` may be sent and counts it as sent. Throws an
   * AnexError of kind `rate-limited` (nothing sent) when the slot lies past `deadline`, and
   * kind `timeout` when `signal` aborts.
   */
  acquire(
    endpoint: string,
    options: { signal?: AbortSignal | undefined; deadline?: number | undefined },
  ): Promise<void>;
  /** Every answer to a paced request (429s included), so the pacer can learn from it. */
  observe(endpoint: string, response: { status: number; headers: Headers }): void | Promise<void>;
  /** The least wait after a 429 on `endpoint` with no `Retry-After` (the vendor's interval). */
  minRetryDelayMs(endpoint: string): number;
}

export interface HttpClientOptions {
  /** Used in messages, e.g. the adapter's provider name. */
  service: string;
  baseUrl: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Per-attempt timeout. @default 30000 */
  timeoutMs?: number;
  /** Attempts in total, the first included. @default 4 */
  maxAttempts?: number;
  /** @default { baseDelayMs: 500, maxDelayMs: 20000 } */
  backoff?: BackoffPolicy;
  /** A longer `Retry-After` is not waited for: the call fails as rate-limited. @default 60000 */
  maxRetryAfterMs?: number;
  /** Paces requests that name an `endpoint`; none = unpaced. */
  pacer?: RequestPacer;
  /** Observability hook; receives only redacted data. */
  onRetry?: (event: { route: string; url: string; attempt: number; delayMs: number; reason: string }) => void;
}

const defaultSleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
  await sleepTimer(ms, undefined, signal ? { signal } : {});
};

type Attempt = { response: HttpResponse } | { failure: unknown };

/** The one HTTP behaviour every provider client shares (timeouts, retries, redaction). */
export class HttpClient {
  readonly #o: Required<Omit<HttpClientOptions, 'onRetry' | 'pacer'>> &
    Pick<HttpClientOptions, 'onRetry' | 'pacer'>;

  constructor(options: HttpClientOptions) {
    this.#o = {
      fetch: globalThis.fetch,
      sleep: defaultSleep,
      random: Math.random,
      now: Date.now,
      timeoutMs: 30_000,
      maxAttempts: 4,
      backoff: { baseDelayMs: 500, maxDelayMs: 20_000 },
      maxRetryAfterMs: 60_000,
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
    };
  }

  get secrets(): readonly string[] {
    return [this.#o.apiKey];
  }

  /** Sends `request`, retrying per its mode; returns the final response (any status). */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const route = `${request.method} ${request.path}`;
    for (let attempt = 0; ; attempt++) {
      this.#checkCanStart(request, route, attempt);
      const { pacer } = this.#o;
      if (pacer !== undefined && request.endpoint !== undefined) {
        await pacer.acquire(request.endpoint, { signal: request.signal, deadline: request.deadline });
      }
      const result = await this.#attempt(request, route);
      if (pacer !== undefined && request.endpoint !== undefined && 'response' in result) {
        await pacer.observe(request.endpoint, result.response);
      }
      const delay = this.#retryDelay(request, result, attempt, route);
      if (delay === undefined) {
        if ('response' in result) return result.response;
        throw result.failure;
      }
      this.#o.onRetry?.({
        route,
        url: redactUrl(this.#url(request)),
        attempt,
        delayMs: delay.ms,
        reason: delay.reason,
      });
      await this.#sleep(delay.ms, request, route);
    }
  }

  #checkCanStart(request: HttpRequest, route: string, attempt: number): void {
    if (request.signal?.aborted) {
      throw new AnexError(`${this.#o.service} ${route}: aborted before attempt ${attempt + 1}`, {
        kind: 'timeout',
        retryable: true,
      });
    }
    if (request.deadline !== undefined && this.#o.now() >= request.deadline) {
      throw new AnexError(`${this.#o.service} ${route}: deadline passed before attempt ${attempt + 1}`, {
        kind: 'timeout',
        retryable: true,
      });
    }
  }

  /**
   * Decides whether to try again and how long to wait first; undefined = stop here. Throws
   * the final error when retries are exhausted or not allowed.
   */
  #retryDelay(
    request: HttpRequest,
    result: Attempt,
    attempt: number,
    route: string,
  ): { ms: number; reason: string } | undefined {
    const lastAttempt = attempt + 1 >= this.#o.maxAttempts;
    if ('failure' in result) {
      if (request.mode === 'create' || lastAttempt || request.signal?.aborted)
        throw this.#wrapFailure(request, result.failure, route);
      return this.#fitDeadline(request, this.#backoff(attempt), 'network error or timeout', result, route);
    }
    const { status, headers } = result.response;
    if (status === 429) {
      const retryAfter = parseRetryAfter(headers.get('retry-after'), this.#o.now());
      if (lastAttempt || (retryAfter ?? 0) > this.#o.maxRetryAfterMs)
        throw this.#rateLimited(route, retryAfter);
      // Without Retry-After (Vast never sends one) a retry inside the vendor's interval is
      // refused again — and costs a penalty on some endpoints — so wait at least that long.
      const floor =
        request.endpoint === undefined ? 0 : (this.#o.pacer?.minRetryDelayMs(request.endpoint) ?? 0);
      return this.#fitDeadline(
        request,
        retryAfter ?? Math.max(floor, this.#backoff(attempt)),
        'HTTP 429',
        result,
        route,
      );
    }
    if (status >= 500 && request.mode === 'idempotent' && !lastAttempt) {
      const fitted = this.#deadlineAllows(request, this.#backoff(attempt));
      return fitted === undefined ? undefined : { ms: fitted, reason: `HTTP ${status}` };
    }
    return undefined;
  }

  #backoff(attempt: number): number {
    return fullJitterDelay(attempt, this.#o.backoff, this.#o.random);
  }

  #deadlineAllows(request: HttpRequest, ms: number): number | undefined {
    if (request.deadline === undefined) return ms;
    return this.#o.now() + ms < request.deadline ? ms : undefined;
  }

  #fitDeadline(
    request: HttpRequest,
    ms: number,
    reason: string,
    result: Attempt,
    route: string,
  ): { ms: number; reason: string } {
    if (this.#deadlineAllows(request, ms) !== undefined) return { ms, reason };
    if ('response' in result) throw this.#rateLimited(route, ms);
    throw this.#wrapFailure(request, result.failure, route);
  }

  #rateLimited(route: string, retryAfterMs: number | undefined): AnexError {
    const hint = retryAfterMs === undefined ? '' : ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)`;
    return new AnexError(`${this.#o.service} ${route}: rate limited (HTTP 429)${hint}`, {
      kind: 'rate-limited',
      retryable: true,
    });
  }

  #wrapFailure(request: HttpRequest, failure: unknown, route: string): AnexError {
    const reason = redactText(failure instanceof Error ? failure.message : String(failure), this.secrets);
    if (request.mode === 'create') {
      return new AnexError(
        `${this.#o.service} ${route}: the create request may or may not have been processed (${reason}); ` +
          'look for the tagged instance before trying again',
        { kind: 'unknown-outcome', cause: failure },
      );
    }
    const aborted = request.signal?.aborted === true;
    return new AnexError(
      `${this.#o.service} ${route}: ${aborted ? 'aborted' : 'request failed'} (${reason})`,
      {
        kind: aborted || isTimeout(failure) ? 'timeout' : 'unavailable',
        retryable: true,
        cause: failure,
      },
    );
  }

  async #sleep(ms: number, request: HttpRequest, route: string): Promise<void> {
    try {
      await this.#o.sleep(ms, request.signal);
    } catch (error) {
      throw new AnexError(`${this.#o.service} ${route}: aborted while waiting to retry`, {
        kind: 'timeout',
        retryable: true,
        cause: error,
      });
    }
  }

  #url(request: HttpRequest): URL {
    const url = new URL(this.#o.baseUrl + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    return url;
  }

  async #attempt(request: HttpRequest, route: string): Promise<Attempt> {
    const perAttempt = request.timeoutMs ?? this.#o.timeoutMs;
    const budget =
      request.deadline === undefined
        ? perAttempt
        : Math.max(1, Math.min(perAttempt, request.deadline - this.#o.now()));
    const signals = [AbortSignal.timeout(budget)];
    if (request.signal) signals.push(request.signal);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.#o.fetch(this.#url(request), {
        method: request.method,
        headers,
        signal: AbortSignal.any(signals),
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      });
      const text = await response.text();
      return {
        response: { status: response.status, headers: response.headers, text, json: parseJson(text), route },
      };
    } catch (failure) {
      return { failure };
    }
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
