import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Validates recorded HTTP exchanges against the committed OpenAPI extracts
 * (test/contract/schemas/*.json, produced by regenerate-schemas.ts). Documented deviations —
 * where recorded behaviour (providers.md) and the spec disagree — are applied as patches by
 * the test files, each with its reason.
 */

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI extracts are navigated by key, their shape checked by ajv
type Json = Record<string, any>;

export interface Exchange {
  method: string;
  url: URL;
  requestBody: unknown;
  status: number;
  headers: Headers;
  text: string;
}

const here = dirname(fileURLToPath(import.meta.url));

export function loadSpec(name: 'vastai' | 'runpod-v2'): Json {
  return JSON.parse(readFileSync(join(here, '..', 'schemas', `${name}.json`), 'utf8')) as Json;
}

function absolutize(value: unknown, id: string): unknown {
  if (Array.isArray(value)) return value.map((v) => absolutize(v, id));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${id}${v}` : absolutize(v, id),
    ]),
  );
}

function templateRegex(template: string): RegExp {
  const pattern = template.replace(/\{[^}]+\}/g, '([^/]+)');
  // The real Vast API is called with a trailing slash (vast-cli, docs' curl); the spec's keys omit it.
  return new RegExp(`^${pattern}/?$`);
}

export class OpenApiValidator {
  readonly #ajv: Ajv2020;
  readonly #spec: Json;
  readonly #id: string;
  readonly #cache = new Map<unknown, ValidateFunction>();
  /** Query parameters that the spec does not declare but recorded behaviour uses. */
  readonly #extraQuery: Set<string>;
  readonly covered = new Set<string>();

  constructor(spec: Json, name: string, options: { extraQuery?: string[] } = {}) {
    this.#spec = spec;
    this.#id = `urn:anex:${name}`;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(this.#ajv);
    for (const format of ['float', 'double', 'int32', 'int64']) this.#ajv.addFormat(format, true);
    this.#ajv.addSchema({ $id: this.#id, components: spec.components });
    this.#extraQuery = new Set(options.extraQuery ?? []);
  }

  #compile(schema: unknown): ValidateFunction {
    let fn = this.#cache.get(schema);
    if (!fn) {
      fn = this.#ajv.compile(absolutize(schema, this.#id) as Json);
      this.#cache.set(schema, fn);
    }
    return fn;
  }

  #check(schema: unknown, value: unknown, where: string): string[] {
    const fn = this.#compile(schema);
    if (fn(value)) return [];
    return (fn.errors ?? []).map(
      (e) => `${where}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  }

  operation(method: string, path: string): { key: string; op: Json; params: string[] } | undefined {
    for (const [key, op] of Object.entries(this.#spec.operations as Record<string, Json>)) {
      const [m, template] = key.split(' ') as [string, string];
      const match = m === method.toUpperCase() ? templateRegex(template).exec(path) : null;
      if (match) return { key, op, params: match.slice(1) };
    }
    return undefined;
  }

  /** Every contract violation of one exchange; empty when it conforms. */
  validate(exchange: Exchange): string[] {
    const found = this.operation(exchange.method, exchange.url.pathname);
    if (!found) return [`no operation in the spec for ${exchange.method} ${exchange.url.pathname}`];
    this.covered.add(`${found.key} ${exchange.status}`);
    return [...this.#request(found, exchange), ...this.#response(found, exchange)];
  }

  #request(found: { key: string; op: Json; params: string[] }, exchange: Exchange): string[] {
    const errors: string[] = [];
    const declared = (found.op.parameters ?? []) as Json[];
    const pathParams = declared.filter((p) => p.in === 'path');
    pathParams.forEach((p, i) => {
      errors.push(
        ...this.#check(
          p.schema,
          coerce(p.schema, decodeURIComponent(found.params[i] ?? '')),
          `path ${p.name}`,
        ),
      );
    });
    for (const [name, raw] of exchange.url.searchParams) {
      const param = declared.find((p) => p.in === 'query' && p.name === name);
      if (!param) {
        if (!this.#extraQuery.has(name)) errors.push(`query parameter "${name}" is not declared`);
        continue;
      }
      errors.push(...this.#check(param.schema, coerce(param.schema, raw), `query ${name}`));
    }
    const bodySchema = found.op.requestBody?.content?.['application/json']?.schema;
    if (exchange.requestBody !== undefined) {
      if (!bodySchema) errors.push('a request body was sent to an operation that takes none');
      else errors.push(...this.#check(bodySchema, exchange.requestBody, 'request body'));
    } else if (found.op.requestBody?.required) errors.push('the required request body is missing');
    return errors;
  }

  #response(found: { key: string; op: Json }, exchange: Exchange): string[] {
    const responses = found.op.responses as Record<string, Json>;
    const declared = responses[String(exchange.status)] ?? responses.default;
    if (!declared) return [`status ${exchange.status} is not declared for ${found.key}`];
    const errors: string[] = [];
    for (const [name, header] of Object.entries((declared.headers ?? {}) as Record<string, Json>)) {
      const value = exchange.headers.get(name);
      if (value !== null && header.schema)
        errors.push(...this.#check(header.schema, coerce(header.schema, value), `header ${name}`));
    }
    const content = declared.content as Record<string, Json> | undefined;
    if (!content) {
      if (exchange.text !== '') errors.push(`status ${exchange.status} declares no body but one was sent`);
      return errors;
    }
    const mediaType = (exchange.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const media = content[mediaType];
    if (!media)
      return [...errors, `content-type "${mediaType}" is not declared (${Object.keys(content).join(', ')})`];
    let body: unknown;
    try {
      body = JSON.parse(exchange.text);
    } catch {
      return [...errors, `body is not JSON: ${exchange.text.slice(0, 80)}`];
    }
    return [...errors, ...this.#check(media.schema, body, 'response body')];
  }
}

function coerce(schema: Json | undefined, raw: string): unknown {
  const type = schema?.type;
  if (type === 'array') return raw.split(',');
  if (type === 'integer' || type === 'number') return Number(raw);
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/** A fetch that records every exchange (request and response text) for validation. */
export function recordingExchanges() {
  const exchanges: Exchange[] = [];
  const fetchFn: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    const text = await response.clone().text();
    exchanges.push({
      method: init?.method ?? 'GET',
      url: new URL(String(input)),
      requestBody: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
      status: response.status,
      headers: response.headers,
      text,
    });
    return response;
  };
  return { exchanges, fetch: fetchFn };
}
