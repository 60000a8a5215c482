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
import {
  type RunPodPod,
  registryListSchema,
  registrySchema,
  runPodListSchema,
  runPodPodSchema,
} from './schemas.ts';

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
  | { kind: 'refused'; reason: string }
  /** the `registry` credential the body names is unknown to RunPod (404): nothing was made */
  | { kind: 'registry-gone' };

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
    // 404 on create: a resource the body names is unknown (v2 POST /v2/pods NotFoundError) —
    // the pod's `registry` credential, deleted since it was looked up. Not processed: resendable.
    if (response.status === 404 && body.registry !== undefined) return { kind: 'registry-gone' };
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

  /** `GET /v2/registries`: the account's registry credentials (id and name; never the login). */
  async listRegistries(call: CallOptions): Promise<{ id: string; name: string }[]> {
    const response = await this.#http.send({
      method: 'GET',
      path: '/v2/registries',
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    return parseBody('runpod', this.#ok(response), registryListSchema).registries;
  }

  /**
   * `POST /v2/registries` {name, username, password}: its id, or `taken` when the name is
   * (v1 OpenAPI: "The name must be unique"; a concurrent pass made it). The login is
   * write-only at RunPod and redacted from every error, like the API key.
   */
  async createRegistry(
    input: { name: string; username: string; password: string },
    call: CallOptions,
  ): Promise<{ kind: 'created'; id: string } | { kind: 'taken'; error: AnexError }> {
    const response = await this.#http.send({
      method: 'POST',
      path: '/v2/registries',
      body: input,
      // Sent once: an ambiguous answer is harmless, the next look by name finds what it made.
      mode: 'create',
      endpoint: 'api',
      ...call,
    });
    const secrets = [...this.#http.secrets, input.password];
    if (response.status >= 200 && response.status < 300)
      return { kind: 'created', id: parseBody('runpod', response, registrySchema).id };
    if (response.status === 400 && /already exists|taken|unique/i.test(errorDetail(response)))
      return { kind: 'taken', error: runPodError(response, secrets) };
    if (response.status >= 500)
      throw new AnexError(
        `runpod ${response.route} answered HTTP ${response.status}; retrying on the next pass`,
        {
          kind: 'unavailable',
        },
      );
    throw runPodError(response, secrets);
  }

  /** `DELETE /v2/registries/{id}`: deleted, gone (404), or in use (400: a pod still pulls with it). */
  async deleteRegistry(id: string, call: CallOptions): Promise<'deleted' | 'gone' | 'in-use'> {
    const response = await this.#http.send({
      method: 'DELETE',
      path: `/v2/registries/${encodeURIComponent(id)}`,
      mode: 'idempotent',
      endpoint: 'api',
      ...call,
    });
    if (response.status === 404) return 'gone';
    if (response.status === 400) return 'in-use';
    this.#ok(response);
    return 'deleted';
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
