import { redactText } from '../providers/http/redact.ts';

/** One answer the provider gave, as the selftest quotes it (never a key: the text is redacted). */
export interface HttpExchange {
  method: string;
  path: string;
  status: number;
  /** the error text of a 4xx/5xx answer, redacted and shortened; '' otherwise */
  detail: string;
}

/**
 * A `fetch` that remembers the answers it passed on, so a step can quote what the provider
 * said even where the adapter retried it away (a destroy's 5xx before its 404). Handed to the
 * adapter through `createProvider({ fetch })`; the adapter's behaviour is unchanged.
 */
export class HttpLog {
  readonly exchanges: HttpExchange[] = [];
  readonly #secrets: readonly string[];
  readonly #fetch: typeof globalThis.fetch;

  constructor(secrets: readonly string[], inner: typeof globalThis.fetch = globalThis.fetch) {
    this.#secrets = secrets;
    this.#fetch = inner;
  }

  readonly fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await this.#fetch(request);
    const url = new URL(request.url);
    let detail = '';
    if (response.status >= 400) {
      const text = await response
        .clone()
        .text()
        .catch(() => '');
      detail = redactText(errorText(text), this.#secrets, 200);
    }
    this.exchanges.push({ method: request.method, path: url.pathname, status: response.status, detail });
    return response;
  };

  /** Answers to `method` requests whose path contains `pathPart`, in order. */
  answers(method: string, pathPart: string): HttpExchange[] {
    return this.exchanges.filter((e) => e.method === method && e.path.includes(pathPart));
  }
}

/** The human part of an error body: JSON `detail`/`msg`/`message`/`error`, else the text. */
function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['detail', 'msg', 'message', 'error']) {
      const value = body[key];
      if (typeof value === 'string' && value !== '') return value;
    }
  } catch {
    // not JSON: the text itself
  }
  return text.trim() || '(empty body)';
}
