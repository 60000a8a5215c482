import { AnexError } from '../../errors.ts';
import type { HttpResponse } from '../http/response.ts';
import type { LogOptions } from '../provider.ts';
import { runPodError } from './errors.ts';

export interface RunPodLogReaderOptions {
  /** the server the `/v2/...` paths go under (client.ts `runPodServer`) */
  server: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * How long the event stream is read before anex stops listening. `GET /v2/pods/{id}/logs` is
   * Server-Sent Events that stay open after the backfill ("Always `keep-alive` to hold the SSE
   * stream open", v2 OpenAPI getPodLogs), so a read takes what arrived in this window.
   * @default 3000
   */
  windowMs?: number;
}

/** The v2 `tail` bound (0…5000; the simulator's 422 mirrors it). */
const MAX_TAIL = 5000;

/**
 * Reads a pod's container log: `GET /v2/pods/{id}/logs?source=container&tail=N` (v2 OpenAPI
 * getPodLogs), each event's `data: {"ts","source","line"}` taken in order. Not through the
 * shared HTTP client, which reads a body to its end: this stream has none. Errors are RunPod's
 * answers classified by errors.ts (404 → `not-found`), the key redacted.
 */
export async function readPodLogs(
  reader: RunPodLogReaderOptions,
  podId: string,
  options: LogOptions,
): Promise<string[]> {
  const tail = Math.min(MAX_TAIL, Math.max(1, options.tail ?? 1000));
  const path = `/v2/pods/${encodeURIComponent(podId)}/logs`;
  const url = `${reader.server}${path}?source=container&tail=${tail}`;
  const window = AbortSignal.timeout(windowLeft(reader.windowMs ?? 3000, options.deadline));
  const signal = options.signal === undefined ? window : AbortSignal.any([window, options.signal]);
  let response: Response;
  try {
    response = await (reader.fetch ?? globalThis.fetch)(url, {
      headers: { authorization: `Bearer ${reader.apiKey}`, accept: 'text/event-stream' },
      signal,
    });
  } catch (error) {
    throw new AnexError(`runpod GET ${path}: no answer (${(error as Error).name})`, {
      kind: 'unavailable',
      retryable: true,
      cause: error,
    });
  }
  if (response.status !== 200) throw runPodError(await asHttpResponse(response, path), [reader.apiKey]);
  return parseEvents(await readUntilQuiet(response, signal));
}

function windowLeft(windowMs: number, deadline: number | undefined): number {
  return Math.max(1, deadline === undefined ? windowMs : Math.min(windowMs, deadline - Date.now()));
}

/** The body as far as it came before the stream ended or the window closed. */
async function readUntilQuiet(response: Response, signal: AbortSignal): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  const decoder = new TextDecoder();
  let text = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } catch (error) {
    // The window closing is how a read of an open stream ends; anything else is a failure.
    if (!signal.aborted) throw error;
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
  return text;
}

/** `data:` payloads of complete events (`\n\n`-terminated), their `line` in order. */
export function parseEvents(text: string): string[] {
  const lines: string[] = [];
  const complete = text.slice(0, text.lastIndexOf('\n\n') + 2);
  for (const event of complete.split('\n\n')) {
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '') continue;
    try {
      const parsed = JSON.parse(data) as { line?: unknown };
      if (typeof parsed.line === 'string') lines.push(parsed.line);
    } catch {
      // An event anex cannot read is skipped: the log is evidence, not a contract.
    }
  }
  return lines;
}

async function asHttpResponse(response: Response, path: string): Promise<HttpResponse> {
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, route: `GET ${path}` };
}
