import { AnexError } from '../../errors.ts';
import type { RunPodCloudType } from '../../offers/offer.ts';
import { HttpClient, type HttpClientOptions } from '../http/http-client.ts';
import { redactText } from '../http/redact.ts';
import { errorDetail, type HttpResponse, parseBody } from '../http/response.ts';
import type { CallOptions } from '../provider.ts';
import {
  isCandidateRefused,
  isCapacity,
  isPoolForbidden,
  poolForbiddenReason,
  runPodError,
} from './errors.ts';
import { RateLimitHeaderPacer } from './rate-pacer.ts';
import { type RunPodPod, runPodListSchema, runPodPodSchema } from './schemas.ts';

export const RUNPOD_DEFAULT_BASE_URL = 'https://api.runpod.io';

export type RunPodClientOptions = Omit<HttpClientOptions, 'service' | 'baseUrl'> & { baseUrl?: string };

/**
 * The server the `/v2/...` paths are appended to. RunPod's docs give the v2 base URL as
 * `https://api.runpod.io/v2` (release-notes.mdx, 2026-08-18) while the OpenAPI servers entry is
 * `https://api.runpod.io` with `/v2/...` paths (runpod audit §1): either form is accepted, so a
 * URL copied from the docs does not become `/v2/v2/pods`.
 */
export function runPodServer(baseUrl: string = RUNPOD_DEFAULT_BASE_URL): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v2$/, '');
}

export type RunPodCreateAnswer =
  | { kind: 'created'; pod: RunPodPod }
  | { kind: 'capacity'; reason: string }
  | { kind: 'refused'; reason: string };

export interface CatalogQuery {
  cloud?: RunPodCloudType | undefined;
  count: number;
  minCudaVersion?: string | undefined;
}

/** RunPod REST v2 calls anex makes, over the shared HTTP behaviour. No domain mapping here. */
export class RunPodClient {
  readonly #http: HttpClient;

  constructor(options: RunPodClientOptions) {
    const baseUrl = runPodServer(options.baseUrl);
    this.#http = new HttpClient({
      pacer: new RateLimitHeaderPacer({ origin: new URL(baseUrl).origin }),
      ...options,
      service: 'runpod',
      baseUrl,
    });
  }

  /** `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD…` — the raw body, for the normalizer. */
  async listGpuTypes(query: CatalogQuery, call: CallOptions): Promise<unknown> {
    const response = await this.#http.send({
      method: 'GET',
      path: '/v2/catalog/gpus',
      query: {
        include: 'AVAILABILITY',
        product: 'POD',
        count: String(query.count),
        cloud: query.cloud,
        minCudaVersion: query.minCudaVersion,
      },
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    return this.#ok(response).json;
  }

  /** `GET /v2/catalog/datacenters` — the raw body, for the normalizer. */
  async listDataCenters(call: CallOptions): Promise<unknown> {
    const response = await this.#http.send({
      method: 'GET',
      path: '/v2/catalog/datacenters',
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    return this.#ok(response).json;
  }

  /**
   * `POST /v2/pods`, sent once (a 429 may be resent: refused before processing). 400 with a
   * capacity text and 403 (this pool is closed to the key) are expected outcomes that skip the
   * candidate; 5xx or an unreadable 201 is unknown outcome.
   */
  async createPod(body: Record<string, unknown>, call: CallOptions): Promise<RunPodCreateAnswer> {
    const response = await this.#http.send({
      method: 'POST',
      path: '/v2/pods',
      body,
      mode: 'create',
      endpoint: 'api',
      ...call,
    });
    if (response.status >= 200 && response.status < 300) {
      const parsed = runPodPodSchema.safeParse(response.json);
      if (parsed.success) return { kind: 'created', pod: parsed.data };
      throw unknownOutcome(response, 'an unreadable body');
    }
    if (isCapacity(response)) {
      const detail = (response.json as { detail?: string } | undefined)?.detail ?? 'no capacity';
      return { kind: 'capacity', reason: detail };
    }
    if (isPoolForbidden(response)) {
      return { kind: 'capacity', reason: poolForbiddenReason(response, this.#http.secrets) };
    }
    if (isCandidateRefused(response)) {
      return { kind: 'refused', reason: redactText(errorDetail(response), this.#http.secrets) };
    }
    if (response.status >= 500) throw unknownOutcome(response, `HTTP ${response.status}`);
    throw runPodError(response, this.#http.secrets);
  }

  /** One pod, or null when RunPod answers 404 (terminated or never existed). */
  async getPod(id: string, call: CallOptions): Promise<RunPodPod | null> {
    const response = await this.#http.send({
      method: 'GET',
      path: `/v2/pods/${encodeURIComponent(id)}`,
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    if (response.status === 404) return null;
    return parseBody('runpod', this.#ok(response), runPodPodSchema);
  }

  /** One page of `GET /v2/pods`; `nextCursor` only when the server pages. */
  async listPodsPage(
    cursor: string | undefined,
    call: CallOptions,
  ): Promise<{ pods: RunPodPod[]; nextCursor: string | undefined }> {
    const response = await this.#http.send({
      method: 'GET',
      path: '/v2/pods',
      query: { cursor },
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    const body = parseBody('runpod', this.#ok(response), runPodListSchema);
    const next = body.pagination?.hasNextPage !== false ? body.pagination?.nextCursor : undefined;
    return { pods: body.pods, nextCursor: next ?? undefined };
  }

  /** `DELETE /v2/pods/{id}`: 204 destroyed, 404 gone. */
  async deletePod(id: string, call: CallOptions): Promise<'destroyed' | 'gone'> {
    const response = await this.#http.send({
      method: 'DELETE',
      path: `/v2/pods/${encodeURIComponent(id)}`,
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    if (response.status === 404) return 'gone';
    this.#ok(response);
    return 'destroyed';
  }

  #ok(response: HttpResponse): HttpResponse {
    if (response.status >= 200 && response.status < 300) return response;
    throw runPodError(response, this.#http.secrets);
  }
}

function unknownOutcome(response: HttpResponse, what: string): AnexError {
  return new AnexError(
    `runpod ${response.route} answered ${what}: the pod may or may not exist; look for the tagged pod before trying again`,
    { kind: 'unknown-outcome' },
  );
}
