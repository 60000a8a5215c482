import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import type { VastAiClient } from '../../../lib/providers/vastai/client.ts';
import { readInstanceLogs } from '../../../lib/providers/vastai/logs.ts';

/**
 * Vast's log read (vast-cli `_poll_result_url`): `request_logs` names an S3 URL, fetched with a
 * plain GET until 200. The Vast key must never go there, and only https is fetched from the
 * real API (a simulator on http may hand out http URLs).
 */

const SIGNED = 'https://s3.amazonaws.com/vast.ai/instance_logs/abc.log?X-Amz-Signature=secret-sig';

function clientNaming(url: string): VastAiClient {
  return { requestLogs: async () => url } as unknown as VastAiClient;
}

/** A fetch answering `answers` in turn, recording what it was asked. */
function s3(answers: { status: number; body: string }[]) {
  const asked: Request[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    asked.push(new Request(input, init));
    const answer = answers[Math.min(asked.length - 1, answers.length - 1)] as {
      status: number;
      body: string;
    };
    return new Response(answer.body, { status: answer.status });
  }) as typeof globalThis.fetch;
  return { asked, fetch };
}

describe('Vast log read', () => {
  it('polls the upload without any Authorization until it is there', async () => {
    const { asked, fetch } = s3([
      { status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' },
      { status: 200, body: 'first\n\nanex-selftest marker n ok\n' },
    ]);
    const lines = await readInstanceLogs(
      clientNaming(SIGNED),
      { fetch, apiBaseUrl: 'https://console.vast.ai', pollMs: 1 },
      '42',
      {},
    );
    expect(lines).toEqual(['first', 'anex-selftest marker n ok']);
    expect(asked).toHaveLength(2);
    expect(asked.map((r) => r.headers.get('authorization'))).toEqual([null, null]);
  });

  it.each([
    [
      'an http URL from the real API',
      'http://s3.amazonaws.com/x.log',
      'https://console.vast.ai',
      'bad-response',
    ],
    ['a file URL', 'file:///etc/passwd', 'http://127.0.0.1:8080', 'bad-response'],
  ])('refuses %s without fetching it', async (_what, url, api, kind) => {
    const { asked, fetch } = s3([{ status: 200, body: 'x' }]);
    const error = await readInstanceLogs(
      clientNaming(url),
      { fetch, apiBaseUrl: api, pollMs: 1 },
      '42',
      {},
    ).catch((e: unknown) => e);
    expect((error as AnexError).kind).toBe(kind);
    expect(asked).toHaveLength(0);
  });

  it.each([
    [
      'S3 answers 500',
      [{ status: 500, body: '<Error><Code>InternalError</Code></Error>' }],
      /answered HTTP 500: InternalError/,
    ],
    [
      'the upload never comes',
      [{ status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' }],
      /was not there after 3 polls/,
    ],
  ])('%s: kind unavailable, the URL without its signature', async (_what, answers, message) => {
    const { fetch } = s3(answers);
    const error = await readInstanceLogs(
      clientNaming(SIGNED),
      { fetch, apiBaseUrl: 'https://console.vast.ai', pollMs: 1, polls: 3 },
      '42',
      {},
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe('unavailable');
    expect((error as AnexError).message).toMatch(message);
    expect((error as AnexError).message).not.toContain('secret-sig');
  });
});
