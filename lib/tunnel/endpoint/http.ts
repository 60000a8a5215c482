import type { z } from 'zod';
import type { AgentRequest, AgentResponse } from './types.ts';

/** Requests larger than this are refused before parsing (agents send a few hundred bytes). */
export const MAX_BODY_BYTES = 16 * 1024;

/** A log tail's body (POST /v1/logs): the one route that takes more (logs.ts). */
export const MAX_LOG_BODY_BYTES = 80 * 1024;

/** What a front end reads of any request before the route's own limit applies: the largest route limit. */
export const MAX_REQUEST_BYTES = MAX_LOG_BODY_BYTES;

const NO_STORE = { 'cache-control': 'no-store' };

export function json(status: number, body: unknown): AgentResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...NO_STORE },
    body: JSON.stringify(body),
  };
}

export function text(status: number, body: string): AgentResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE }, body };
}

export function fail(status: number, error: string, extra: Record<string, unknown> = {}): AgentResponse {
  return json(status, { error, ...extra });
}

export function header(request: AgentRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The bearer credential, or undefined when the header is missing or not `Bearer <value>`. */
export function bearer(request: AgentRequest): string | undefined {
  const match = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(header(request, 'authorization') ?? '');
  return match?.[1];
}

export type BodyResult<T> = { ok: true; value: T } | { ok: false; response: AgentResponse };

/** Size check, JSON parse and zod validation; every failure is a 4xx naming the problem. */
export function parseBody<T>(
  request: AgentRequest,
  schema: z.ZodType<T>,
  maxBytes: number = MAX_BODY_BYTES,
): BodyResult<T> {
  const raw = request.body ?? '';
  if (Buffer.byteLength(raw, 'utf8') > maxBytes) {
    return { ok: false, response: fail(413, `request body exceeds ${maxBytes} bytes`) };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, response: fail(400, 'request body is not JSON') };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    return { ok: false, response: fail(400, `invalid request body: ${issues.join('; ')}`) };
  }
  return { ok: true, value: parsed.data };
}

export function splitPath(path: string): { pathname: string; query: URLSearchParams } {
  const url = new URL(path, 'http://agent.invalid');
  return { pathname: url.pathname, query: url.searchParams };
}
