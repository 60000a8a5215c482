import { AnexError } from '../../errors.ts';
import { HttpClient, type HttpClientOptions } from '../http/http-client.ts';
import { redactText } from '../http/redact.ts';
import { type HttpResponse, parseBody } from '../http/response.ts';
import type { CallOptions } from '../provider.ts';
import { isOfferGone, vastError } from './errors.ts';
import {
  type VastInstance,
  type VastOfferRow,
  vastCreateResponseSchema,
  vastDestroyResponseSchema,
  vastInstanceSchema,
  vastListResponseSchema,
  vastLogsResponseSchema,
  vastSearchResponseSchema,
  vastShowResponseSchema,
} from './schemas.ts';

export const VAST_DEFAULT_BASE_URL = 'https://console.vast.ai';

/** vast-cli `api/client.py` `_DEFAULT_TIMEOUT_SECONDS = 120`, "slow operations like … instance creation" (vast audit #9). */
export const VAST_CREATE_TIMEOUT_MS = 120_000;

export type VastClientOptions = Omit<HttpClientOptions, 'service' | 'baseUrl'> & {
  baseUrl?: string;
  /**
   * The create's per-attempt timeout (still cut short by the call's deadline). A create that
   * times out has an unknown outcome, which costs a reconcile-by-list cycle.
   * @default {@link VAST_CREATE_TIMEOUT_MS}, or `timeoutMs` when that is set (tests shorten every call at once)
   */
  createTimeoutMs?: number;
};

export type VastCreateAnswer =
  | { kind: 'created'; instanceId: number }
  | { kind: 'offer-gone'; reason: string };

export interface VastListPage {
  instances: VastInstance[];
  /** rows that are not an instance as anex reads them: the id when there is one, and what is wrong (never values) */
  skipped: { id: string | undefined; problem: string }[];
  nextToken: string | undefined;
}

/** Vast.ai REST calls anex makes, over the shared HTTP behaviour. No domain mapping here. */
export class VastAiClient {
  readonly #http: HttpClient;
  readonly #createTimeoutMs: number;

  constructor(options: VastClientOptions) {
    const { createTimeoutMs, ...http } = options;
    this.#http = new HttpClient({
      ...http,
      service: 'vastai',
      baseUrl: options.baseUrl ?? VAST_DEFAULT_BASE_URL,
    });
    this.#createTimeoutMs = createTimeoutMs ?? options.timeoutMs ?? VAST_CREATE_TIMEOUT_MS;
  }

  async searchOffers(body: Record<string, unknown>, call: CallOptions): Promise<VastOfferRow[]> {
    const response = await this.#http.send({
      method: 'POST',
      path: '/api/v0/bundles/',
      body,
      mode: 'idempotent',
      endpoint: 'search',
      ...call,
    });
    return parseBody('vastai', this.#ok(response), vastSearchResponseSchema).offers;
  }

  /**
   * `PUT /api/v0/asks/{id}/`, sent once. Any `new_contract` in the answer — even an error
   * answer — means an instance exists and is returned as created.
   */
  async createInstance(
    askId: string,
    body: Record<string, unknown>,
    call: CallOptions,
    /** what the body carries that no error may quote (a registry password) */
    bodySecrets: readonly string[] = [],
  ): Promise<VastCreateAnswer> {
    const secrets = [...this.#http.secrets, ...bodySecrets];
    const response = await this.#http.send({
      method: 'PUT',
      path: `/api/v0/asks/${encodeURIComponent(askId)}/`,
      body,
      mode: 'create',
      endpoint: 'create',
      timeoutMs: this.#createTimeoutMs,
      ...call,
    });
    const parsed = vastCreateResponseSchema.safeParse(response.json);
    const contract = parsed.success ? parsed.data.new_contract : undefined;
    if (typeof contract === 'number') return { kind: 'created', instanceId: contract };
    if (isOfferGone(response)) {
      return {
        kind: 'offer-gone',
        reason: `ask ${askId}: ${redactText(String((parsed.success ? (parsed.data.msg ?? parsed.data.error) : undefined) ?? response.status), secrets)}`,
      };
    }
    if (response.status >= 500 || (response.status < 300 && !parsed.success)) {
      throw new AnexError(
        `vastai ${response.route} answered HTTP ${response.status} without an instance id: the create may or may ` +
          'not have happened; look for the tagged instance before trying again',
        { kind: 'unknown-outcome' },
      );
    }
    throw vastError(response, secrets);
  }

  /** One instance, or null when Vast says it is gone (`{"instances": null}` or 404). */
  async showInstance(id: string, call: CallOptions): Promise<VastInstance | null> {
    const response = await this.#http.send({
      method: 'GET',
      path: `/api/v0/instances/${encodeURIComponent(id)}/`,
      mode: 'idempotent',
      endpoint: 'show',
      ...call,
    });
    if (response.status === 404) return null;
    return parseBody('vastai', this.#ok(response), vastShowResponseSchema).instances;
  }

  /** One page of `GET /api/v1/instances/` (max 25, keyset `after_token`). */
  async listInstancesPage(afterToken: string | undefined, call: CallOptions): Promise<VastListPage> {
    const response = await this.#http.send({
      method: 'GET',
      path: '/api/v1/instances/',
      query: { limit: '25', order_by: JSON.stringify([{ col: 'id', dir: 'asc' }]), after_token: afterToken },
      mode: 'idempotent',
      endpoint: 'list',
      ...call,
    });
    const page = parseBody('vastai', this.#ok(response), vastListResponseSchema);
    const instances: VastInstance[] = [];
    const skipped: VastListPage['skipped'] = [];
    for (const row of page.instances) {
      const parsed = vastInstanceSchema.safeParse(row);
      if (parsed.success) {
        instances.push(parsed.data);
        continue;
      }
      const id = (row as { id?: unknown } | null)?.id;
      skipped.push({
        id: typeof id === 'number' || typeof id === 'string' ? String(id) : undefined,
        problem: parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; '),
      });
    }
    return { instances, skipped, nextToken: page.next_token ?? undefined };
  }

  /** `DELETE /api/v0/instances/{id}/`; 404 (`not_found` / `no_such_instance`) means gone. */
  async destroyInstance(id: string, call: CallOptions): Promise<'destroyed' | 'gone'> {
    const response = await this.#http.send({
      method: 'DELETE',
      path: `/api/v0/instances/${encodeURIComponent(id)}/`,
      mode: 'idempotent',
      endpoint: 'destroy',
      ...call,
    });
    if (response.status === 404) return 'gone';
    const body = parseBody('vastai', this.#ok(response), vastDestroyResponseSchema);
    if (body.success === false) {
      // Old servers answer 200 success:false for an unknown instance.
      if (/not.?found|no_such_instance/i.test(`${body.error ?? ''} ${body.msg ?? ''}`)) return 'gone';
      throw vastError(response, this.#http.secrets);
    }
    return 'destroyed';
  }

  /**
   * `PUT /api/v0/instances/request_logs/{id}/` {tail}: where the log will be uploaded
   * (`result_url`). A read (a new upload each time), so retried like one. 404 (`invalid_id`:
   * unknown or destroyed) is kind `not-found`.
   */
  async requestLogs(id: string, tail: number, call: CallOptions): Promise<string> {
    const response = await this.#http.send({
      method: 'PUT',
      path: `/api/v0/instances/request_logs/${encodeURIComponent(id)}/`,
      // The OpenAPI types `tail` as a string ("1000"), as vast-cli sends it.
      body: { tail: String(tail) },
      mode: 'idempotent',
      ...call,
    });
    return parseBody('vastai', this.#ok(response), vastLogsResponseSchema).result_url;
  }

  #ok(response: HttpResponse): HttpResponse {
    if (response.status >= 200 && response.status < 300) return response;
    throw vastError(response, this.#http.secrets);
  }
}
