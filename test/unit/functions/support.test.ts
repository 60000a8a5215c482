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
    const reconciler = parseCredentials(
      JSON.stringify({
        VAST_API_KEY: 'vast-key-1',
        kubeconfig: 'apiVersion: v1',
        wstunnelPathPrefix: 'pfx-1',
      }),
      'reconciler',
    );
    expect(reconciler.secrets.apiKeys.vastai?.reveal()).toBe('vast-key-1');
    expect(reconciler.secrets.apiKeys.runpod).toBeUndefined();
    expect(reconciler.secrets.kubeconfig?.reveal()).toBe('apiVersion: v1');
    expect(reconciler.wstunnelPathPrefix?.reveal()).toBe('pfx-1');
    const webhook = parseCredentials(JSON.stringify({ webhookToken: token }), 'webhook');
    expect(webhook.webhookToken.reveal()).toBe(token);
    expect(JSON.stringify([reconciler, webhook])).not.toMatch(/vast-key-1|TTTT|apiVersion|pfx-1/);
  });

  it('gives the agent its kubeconfig and prefix, and never an API key', () => {
    const agent = parseCredentials(JSON.stringify({ kubeconfig: 'apiVersion: v1' }), 'agent');
    expect(agent.secrets).toEqual({ apiKeys: {}, kubeconfig: expect.anything() });
    expect(agent.secrets.kubeconfig?.reveal()).toBe('apiVersion: v1');
  });

  it('accepts the empty object the stack creates (nothing configured yet)', () => {
    expect(parseCredentials('{}', 'reconciler').secrets.apiKeys).toEqual({});
    expect(parseCredentials('{}', 'agent').secrets.kubeconfig).toBeUndefined();
  });

  it.each([
    ['not JSON', 'reconciler', 'vast-key-1', /reconciler secret is not a JSON object/],
    ['a JSON array', 'agent', '["vast-key-1"]', /agent secret is not a JSON object/],
    ['no token', 'webhook', JSON.stringify({}), /webhookToken/],
    [
      'a short token',
      'webhook',
      JSON.stringify({ webhookToken: 'short-vast-key-1' }),
      /at least 32 characters/,
    ],
    [
      'a key with a space',
      'reconciler',
      JSON.stringify({ RUNPOD_API_KEY: 'rp key-1' }),
      /RUNPOD_API_KEY: the API key contains whitespace/,
    ],
    [
      'a key that is not a string',
      'reconciler',
      JSON.stringify({ VAST_API_KEY: 12 }),
      /VAST_API_KEY: expected the vastai API key as a string/,
    ],
    [
      "the first release's key name",
      'reconciler',
      JSON.stringify({ vastaiApiKey: 'vast-key-1' }),
      /vastaiApiKey is now VAST_API_KEY/,
    ],
    [
      'an API key in the agent secret',
      'agent',
      JSON.stringify({ kubeconfig: 'apiVersion: v1', VAST_API_KEY: 'vast-key-1' }),
      /VAST_API_KEY does not belong here: it goes in the reconciler secret only/,
    ],
    [
      'the single secret of earlier releases, read as the webhook secret',
      'webhook',
      JSON.stringify({ webhookToken: token, RUNPOD_API_KEY: 'rp key-1', kubeconfig: 'apiVersion: v1' }),
      /RUNPOD_API_KEY does not belong here: it goes in the reconciler secret only; kubeconfig does not belong here: it goes in the reconciler and agent secret only/,
    ],
    [
      'the webhook token in the reconciler secret',
      'reconciler',
      JSON.stringify({ webhookToken: token }),
      /webhookToken does not belong here: it goes in the webhook secret only/,
    ],
    [
      'an unknown key',
      'agent',
      JSON.stringify({ kubeConfig: 'vast-key-1' }),
      /kubeConfig is not a key of this secret \(expected: kubeconfig, wstunnelPathPrefix\)/,
    ],
  ] as const)('reports %s by key name, never the value', (_what, consumer, text, message) => {
    let error: unknown;
    try {
      parseCredentials(text, consumer);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AnexError);
    expect((error as AnexError).kind).toBe('auth');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/vast-key-1|rp key-1|TTTT|apiVersion/);
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
      secretArns: {},
      queueUrl: undefined,
      tickWindowSeconds: 50,
      deadlineMarginMs: 5000,
    });
  });

  it('names every bad variable', () => {
    expect(() =>
      readFunctionEnv({ ANEX_TICK_WINDOW_SECONDS: 'soon', ANEX_AGENT_SECRET_ARN: 'my-secret' }),
    ).toThrow(
      /ANEX_AGENT_SECRET_ARN[\s\S]*ANEX_TICK_WINDOW_SECONDS|ANEX_TICK_WINDOW_SECONDS[\s\S]*ANEX_AGENT_SECRET_ARN/,
    );
  });

  it('reads each secret ARN under its consumer', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:1:secret:a';
    expect(readFunctionEnv({ ANEX_AGENT_SECRET_ARN: arn }).secretArns).toEqual({ agent: arn });
  });
});
