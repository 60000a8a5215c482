import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AnexError } from '../../../lib/errors.ts';
import { fullJitterDelay, parseRetryAfter } from '../../../lib/providers/http/backoff.ts';
import { HttpClient, type HttpClientOptions } from '../../../lib/providers/http/http-client.ts';
import { redactText, redactUrl } from '../../../lib/providers/http/redact.ts';
import { parseBody } from '../../../lib/providers/http/response.ts';
import { failureOf as failure, recordingSleep } from './builders.ts';

const KEY = 'sk-secret-key-1234567890';

type Step = Response | Error | 'hang';

/** A fetch that plays `steps` in order (one per attempt) and counts calls. */
function scriptedFetch(steps: Step[]) {
  const calls: { url: string; headers: Headers }[] = [];
  const fetchFn: typeof globalThis.fetch = (input, init) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) });
    const step = steps.shift() ?? new Error('script exhausted');
    if (step === 'hang') {
      return new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
      });
    }
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  };
  return { calls, fetch: fetchFn };
}

function client(steps: Step[], extra: Partial<HttpClientOptions> = {}) {
  const script = scriptedFetch(steps);
  const sleeper = recordingSleep();
  const http = new HttpClient({
    service: 'testsvc',
    baseUrl: 'http://127.0.0.1:9',
    apiKey: KEY,
    fetch: script.fetch,
    sleep: sleeper.sleep,
    random: () => 0.5,
    ...extra,
  });
  return { http, calls: script.calls, delays: sleeper.delays };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers });

describe('HttpClient', () => {
  it('sends the key as a bearer header and never in the URL', async () => {
    const { http, calls } = client([json(200, { ok: true })]);
    await http.send({ method: 'GET', path: '/x', mode: 'idempotent' });
    expect(calls[0]?.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(calls[0]?.url).not.toContain(KEY);
  });

  it.each([
    ['429 plain text without Retry-After', text(429, 'API requests too frequent endpoint threshold=2.0')],
    ['500', json(500, { error: 'x' })],
    ['502 html', text(502, '<html>bad gateway</html>')],
    ['network error', new TypeError('fetch failed')],
  ])('retries a read after %s with full-jitter backoff', async (_name, first) => {
    const { http, calls, delays } = client([first, json(200, { ok: true })], {
      backoff: { baseDelayMs: 100, maxDelayMs: 1000 },
    });
    const response = await http.send({ method: 'GET', path: '/x', mode: 'idempotent' });
    expect(response.status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(delays).toEqual([50]); // random 0.5 × min(1000, 100 × 2^0)
  });

  it.each([
    ['seconds', '7', 7000],
    ['an HTTP-date', new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), 30_000],
  ])('honours Retry-After given as %s', async (_name, header, expected) => {
    const { http, delays } = client(
      [json(429, { title: 'Too Many Requests' }, { 'retry-after': header }), json(200, {})],
      {
        now: () => Date.UTC(2026, 0, 1, 0, 0, 0),
      },
    );
    await http.send({ method: 'GET', path: '/x', mode: 'idempotent' });
    expect(delays).toEqual([expected]);
  });

  it('resends a create refused with 429 (refused before processing)', async () => {
    const { http, calls } = client([text(429, 'API requests too frequent'), json(200, { new_contract: 1 })]);
    const response = await http.send({ method: 'PUT', path: '/create', body: {}, mode: 'create' });
    expect(response.status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('returns a create 5xx to the caller without resending it', async () => {
    const { http, calls } = client([json(500, {}), json(200, {})]);
    const response = await http.send({ method: 'POST', path: '/create', body: {}, mode: 'create' });
    expect(response.status).toBe(500);
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['a network error', new TypeError('socket hang up')],
    ['a timeout', 'hang' as const],
  ])('turns %s on a create into unknown-outcome after one attempt', async (_name, step) => {
    const { http, calls } = client([step, json(200, {})], { timeoutMs: 20 });
    const error = await failure(http.send({ method: 'POST', path: '/create', body: {}, mode: 'create' }));
    expect(error.kind).toBe('unknown-outcome');
    expect(calls).toHaveLength(1);
  });

  it('gives up on reads after maxAttempts with kind unavailable', async () => {
    const failures = [1, 2, 3].map(() => new TypeError('fetch failed'));
    const { http, calls } = client(failures, { maxAttempts: 3 });
    const error = await failure(http.send({ method: 'GET', path: '/x', mode: 'idempotent' }));
    expect(error.kind).toBe('unavailable');
    expect(calls).toHaveLength(3);
  });

  it('reports an exhausted 429 as rate-limited', async () => {
    const { http } = client([text(429, 'x'), text(429, 'x')], { maxAttempts: 2 });
    const error = await failure(http.send({ method: 'GET', path: '/x', mode: 'idempotent' }));
    expect(error.kind).toBe('rate-limited');
    expect(error.retryable).toBe(true);
  });

  it('times out a read that never answers, per attempt', async () => {
    const { http, calls } = client(['hang', 'hang'], { timeoutMs: 20, maxAttempts: 2 });
    const error = await failure(http.send({ method: 'GET', path: '/x', mode: 'idempotent' }));
    expect(error.kind).toBe('timeout');
    expect(calls).toHaveLength(2);
  });

  it("takes a request's own per-attempt timeout over the client's", async () => {
    const { http, calls } = client(['hang'], { timeoutMs: 600_000 });
    const request = { method: 'POST', path: '/create', body: {}, mode: 'create', timeoutMs: 20 } as const;
    expect((await failure(http.send(request))).kind).toBe('unknown-outcome');
    expect(calls).toHaveLength(1);
  });

  it("cuts a request's longer per-attempt timeout short at the deadline", async () => {
    const { http } = client(['hang'], { timeoutMs: 20 });
    const request = {
      method: 'POST',
      path: '/create',
      body: {},
      mode: 'create',
      timeoutMs: 600_000,
      deadline: Date.now() + 30,
    } as const;
    expect((await failure(http.send(request))).kind).toBe('unknown-outcome');
  });

  it('starts no attempt past the deadline', async () => {
    const { http, calls } = client([json(200, {})], { now: () => 1000 });
    const error = await failure(http.send({ method: 'GET', path: '/x', mode: 'idempotent', deadline: 999 }));
    expect(error.kind).toBe('timeout');
    expect(calls).toHaveLength(0);
  });

  it('does not wait for a retry that would end past the deadline', async () => {
    const { http, calls, delays } = client([json(429, {}, { 'retry-after': '30' }), json(200, {})], {
      now: () => 1000,
    });
    const error = await failure(http.send({ method: 'GET', path: '/x', mode: 'idempotent', deadline: 5000 }));
    expect(error.kind).toBe('rate-limited');
    expect(calls).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const { http, calls } = client([json(200, {})]);
    const error = await failure(
      http.send({ method: 'GET', path: '/x', mode: 'idempotent', signal: controller.signal }),
    );
    expect(error.kind).toBe('timeout');
    expect(calls).toHaveLength(0);
  });

  it('keeps the key out of retry events and error messages, even when a server echoes it', async () => {
    const events: string[] = [];
    const echo = new TypeError(`connect failed for Bearer ${KEY}`);
    const { http } = client([echo, echo], {
      maxAttempts: 2,
      onRetry: (event) => events.push(JSON.stringify(event)),
    });
    const error = await failure(
      http.send({ method: 'GET', path: '/x', query: { api_key: KEY }, mode: 'idempotent' }),
    );
    expect(events.join(' ')).not.toContain(KEY);
    expect(events.join(' ')).toContain('api_key=REDACTED');
    expect(error.message).not.toContain(KEY);
  });
});

describe('parseBody', () => {
  const schema = z.looseObject({ offers: z.array(z.looseObject({ id: z.number(), gpu_ram: z.number() })) });
  const response = (body: unknown) => ({
    status: 200,
    headers: new Headers(),
    text: JSON.stringify(body),
    json: body,
    route: 'POST /api/v0/bundles/',
  });

  it('tolerates unknown fields', () => {
    expect(
      parseBody('svc', response({ offers: [{ id: 1, gpu_ram: 2, extra: 'x' }], more: 1 }), schema).offers,
    ).toHaveLength(1);
  });

  it('names the missing field as a bad-response', () => {
    let caught: AnexError | undefined;
    try {
      parseBody('svc', response({ offers: [{ id: 1 }] }), schema);
    } catch (error) {
      caught = error as AnexError;
    }
    expect(caught?.kind).toBe('bad-response');
    expect(caught?.message).toContain('offers.0.gpu_ram');
  });

  it('reports a body that is not JSON', () => {
    const notJson = { status: 200, headers: new Headers(), text: '<html>', json: undefined, route: 'GET /x' };
    expect(() => parseBody('svc', notJson, schema)).toThrow(/not JSON/);
  });
});

describe('backoff and redaction helpers', () => {
  it.each([
    [0, 0.99, 99],
    [3, 0.5, 400],
    [10, 1, 1000],
  ])('full jitter at attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(fullJitterDelay(attempt, { baseDelayMs: 100, maxDelayMs: 1000 }, () => random)).toBe(expected);
  });

  it.each([
    [null, undefined],
    ['garbage', undefined],
    ['0', 0],
  ])('parses Retry-After %s', (value, expected) => {
    expect(parseRetryAfter(value, 0)).toBe(expected);
  });

  it('redacts api_key query parameters and bearer tokens', () => {
    expect(redactUrl(`https://x.test/a?api_key=${KEY}&q=1`)).toBe('https://x.test/a?api_key=REDACTED&q=1');
    expect(redactText(`Authorization: Bearer ${KEY}`, [])).not.toContain(KEY);
    expect(redactText(`echo ${KEY} back`, [KEY])).toBe('echo REDACTED back');
  });
});
