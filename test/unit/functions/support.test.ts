import { once as onceEvent } from 'node:events';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../functions/support/credentials.ts';
import { type DeadlineContext, deadlineSignal } from '../../../functions/support/deadline.ts';
import { readFunctionEnv } from '../../../functions/support/env.ts';
import { edgeActionFor } from '../../../functions/support/error-policy.ts';
import { bodyText, functionUrlEventSchema } from '../../../functions/support/function-url.ts';
import { emfMetricSink } from '../../../functions/support/metrics.ts';
import { isWebhookPathAuthorized, webhookRoute } from '../../../functions/support/webhook-auth.ts';
import { AnexError, type ErrorKind, InvalidInputError } from '../../../lib/errors.ts';

function aContext(remainingMs: number): Context {
  return { getRemainingTimeInMillis: () => remainingMs } as Context;
}

function runBefore(marginMs: number, remainingMs: number) {
  const middleware = deadlineSignal({ marginMs, clock: () => 1_000_000 });
  const request = {
    event: {},
    context: aContext(remainingMs),
    response: undefined,
    error: undefined,
    internal: {},
  };
  middleware.before?.(request);
  return { middleware, request, deadline: (request.context as DeadlineContext).deadline };
}

describe('deadlineSignal', () => {
  it('sets the deadline the margin before Lambda’s', () => {
    const { middleware, request, deadline } = runBefore(5_000, 65_000);
    expect(deadline.at).toBe(1_060_000);
    expect(deadline.signal.aborted).toBe(false);
    middleware.after?.(request);
  });

  it('aborts the signal when the margin is reached', async () => {
    const { deadline } = runBefore(5_000, 5_000);
    await onceEvent(deadline.signal, 'abort');
    expect(deadline.signal.reason).toBeInstanceOf(Error);
  });

  it('never aborts after the handler finished (the timer is cleared)', async () => {
    const { middleware, request, deadline } = runBefore(0, 1);
    middleware.after?.(request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(deadline.signal.aborted).toBe(false);
  });
});

describe('edgeActionFor', () => {
  it.each<[string, unknown, string]>([
    ['auth', new AnexError('refused', { kind: 'auth' }), 'alert'],
    ['invalid input', new InvalidInputError(['bad']), 'drop'],
    ['unavailable', new AnexError('down', { kind: 'unavailable' }), 'retry'],
    ['rate-limited', new AnexError('429', { kind: 'rate-limited' }), 'retry'],
    ['a retryable not-found', new AnexError('x', { kind: 'not-found', retryable: true }), 'retry'],
    ['bad-response', new AnexError('schema', { kind: 'bad-response' as ErrorKind }), 'drop'],
    ['a plain Error (a bug, maybe transient)', new TypeError('x is undefined'), 'retry'],
  ])('%s → %s', (_what, error, action) => {
    expect(edgeActionFor(error)).toBe(action);
  });
});

describe('parseCredentials', () => {
  const token = 'T'.repeat(48);

  it('wraps every value so it prints redacted', () => {
    const credentials = parseCredentials(
      JSON.stringify({ webhookToken: token, VAST_API_KEY: 'vast-key-1', kubeconfig: 'apiVersion: v1' }),
    );
    expect(credentials.webhookToken.reveal()).toBe(token);
    expect(credentials.secrets.apiKeys.vastai?.reveal()).toBe('vast-key-1');
    expect(credentials.secrets.apiKeys.runpod).toBeUndefined();
    expect(JSON.stringify(credentials)).not.toMatch(/vast-key-1|TTTT|apiVersion/);
  });

  it.each([
    ['not JSON', 'vast-key-1', /not a JSON object/],
    ['no token', JSON.stringify({ VAST_API_KEY: 'vast-key-1' }), /webhookToken/],
    [
      'a key with a space',
      JSON.stringify({ webhookToken: token, RUNPOD_API_KEY: 'rp key-1' }),
      /RUNPOD_API_KEY: the API key contains whitespace/,
    ],
    [
      'a key that is not a string',
      JSON.stringify({ webhookToken: token, VAST_API_KEY: 12 }),
      /VAST_API_KEY: expected the vastai API key as a string/,
    ],
    [
      "the first release's key name",
      JSON.stringify({ webhookToken: token, vastaiApiKey: 'vast-key-1' }),
      /vastaiApiKey is now VAST_API_KEY/,
    ],
  ])('reports %s by key name, never the value', (_what, text, message) => {
    let error: unknown;
    try {
      parseCredentials(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe('auth');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/vast-key-1|rp key-1/);
  });
});

describe('isWebhookPathAuthorized', () => {
  const token = 'webhook-'.padEnd(32, 'x'); // a placeholder of the real token's length
  it.each([
    [`/admit/${token}`, true],
    [`/admit/${token}/`, false],
    ['/admit/', false],
    [`/admit/${token.slice(0, -1)}`, false],
    [`/${token}`, false],
    ['/', false],
  ])('%s → %s', (path, allowed) => {
    expect(isWebhookPathAuthorized(path, token)).toBe(allowed);
  });
});

describe('webhookRoute', () => {
  const token = 'webhook-'.padEnd(32, 'x');
  it.each([
    [`/admit/${token}`, 'validate'],
    [`/mutate/${token}`, 'mutate'],
    [`/mutate/${token}/`, undefined],
    [`/mutate/${token.slice(0, -1)}`, undefined],
    [`/admit/mutate/${token}`, undefined],
    ['/mutate/', undefined],
  ])('%s → %s', (path, route) => {
    expect(webhookRoute(path, token)).toBe(route);
  });
});

describe('emfMetricSink', () => {
  it('writes one undimensioned Embedded Metric Format line per count', () => {
    const lines: string[] = [];
    emfMetricSink(
      (line) => lines.push(line),
      () => 1234,
    ).count('LeakedInstances', 2, { provider: 'vastai' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      _aws: {
        Timestamp: 1234,
        CloudWatchMetrics: [
          { Namespace: 'Anex', Dimensions: [[]], Metrics: [{ Name: 'LeakedInstances', Unit: 'Count' }] },
        ],
      },
      provider: 'vastai',
      LeakedInstances: 2,
    });
  });
});

describe('function URL events', () => {
  const event = (body: string, isBase64Encoded: boolean) => ({
    rawPath: '/x',
    body,
    isBase64Encoded,
    requestContext: { http: { method: 'POST' } },
  });
  it.each([
    [event('{"a":1}', false), '{"a":1}'],
    [event(Buffer.from('{"a":1}').toString('base64'), true), '{"a":1}'],
  ])('decodes the body %#', (raw, text) => {
    expect(bodyText(functionUrlEventSchema.parse(raw))).toBe(text);
  });
});

describe('readFunctionEnv', () => {
  it('defaults the tick window and deadline margin', () => {
    expect(readFunctionEnv({})).toEqual({
      secretArn: undefined,
      queueUrl: undefined,
      tickWindowSeconds: 50,
      deadlineMarginMs: 5000,
    });
  });

  it('names every bad variable', () => {
    expect(() => readFunctionEnv({ ANEX_TICK_WINDOW_SECONDS: 'soon', ANEX_SECRET_ARN: 'my-secret' })).toThrow(
      /ANEX_SECRET_ARN[\s\S]*ANEX_TICK_WINDOW_SECONDS|ANEX_TICK_WINDOW_SECONDS[\s\S]*ANEX_SECRET_ARN/,
    );
  });
});
