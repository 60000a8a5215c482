import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { parseEvents, readPodLogs } from '../../../lib/providers/runpod/logs.ts';

/**
 * RunPod's pod log stream stays open after the backfill (v2 OpenAPI getPodLogs: "Always
 * `keep-alive` to hold the SSE stream open"). The simulator keeps it open too
 * (test/contract/runpod-log-stream.test.ts); here a plain server shapes each case exactly.
 */

let server: Server | undefined;

afterEach(async () => {
  const open = server;
  server = undefined;
  if (open === undefined) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const event = (line: string, i: number) =>
  `id: 2026-12-04T07:00:0${i}Z/00000000000${i}\ndata: ${JSON.stringify({ ts: '2026-12-04T07:00:00Z', source: 'container', line })}\n\n`;

describe('RunPod pod logs', () => {
  it('reads what an open stream carried within the window, then stops listening', async () => {
    let asked = '';
    let authorization: string | undefined;
    const url = await serve((request, response) => {
      asked = request.url ?? '';
      authorization = request.headers.authorization;
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(event('first', 1) + event('anex-selftest marker n ok', 2));
      // never ended: the real stream stays open
    });
    const lines = await readPodLogs({ server: url, apiKey: 'rp-key', windowMs: 300 }, 'pod1', { tail: 50 });
    expect(lines).toEqual(['first', 'anex-selftest marker n ok']);
    expect(asked).toBe('/v2/pods/pod1/logs?source=container&tail=50');
    expect(authorization).toBe('Bearer rp-key');
  });

  it.each([
    [
      404,
      { title: 'Not Found', detail: 'pod not found' },
      'not-found',
      /runpod GET \/v2\/pods\/gone\/logs answered HTTP 404: pod not found/,
    ],
    [401, { detail: 'invalid API key rp-key' }, 'auth', /HTTP 401: invalid API key REDACTED/],
  ])('answers HTTP %s (%j) as kind %s, the key redacted', async (status, body, kind, message) => {
    const url = await serve((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/problem+json' });
      response.end(JSON.stringify(body));
    });
    const error = await readPodLogs({ server: url, apiKey: 'rp-key' }, 'gone', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe(kind);
    expect((error as AnexError).message).toMatch(message);
  });
});

describe('parseEvents', () => {
  it.each([
    ['complete events in order', event('a', 1) + event('b', 2), ['a', 'b']],
    ['an event cut off at the end of the window is left out', `${event('a', 1)}data: {"line":"b"`, ['a']],
    ['a data line that is not JSON is skipped', `data: not json\n\n${event('a', 1)}`, ['a']],
    ['comments and empty events', `: keep-alive\n\n${event('a', 1)}`, ['a']],
  ])('%s', (_what, text, lines) => {
    expect(parseEvents(text)).toEqual(lines);
  });
});
