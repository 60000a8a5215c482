import { describe, expect, it } from 'vitest';
import { checkAttempt } from '../../../lib/tunnel/endpoint/bootstrap.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { hostText } from '../../../lib/tunnel/endpoint/status.ts';
import type { AgentResponse, AttemptView, AuthFailure } from '../../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { aLaunch, type EndpointHarness, endpointHarness } from '../../support/tunnel.ts';

// ADR 0021: a bootstrap token works for its pod's current attempt only, on that attempt's
// instance, once; the status credential is the current attempt's only; refusals that an
// honest agent never causes are logged with alarm: true and reach the metric hook.

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return { method: 'POST', path, headers, body: JSON.stringify(body) };
}

function error(response: AgentResponse): unknown {
  return (JSON.parse(response.body) as { error?: unknown }).error;
}

interface Bound {
  h: EndpointHarness;
  podUid: string;
  token: string;
  alarms: AuthFailure[];
}

/** A pod whose current attempt is bound to `token` (as the reconciler's record binds it). */
async function boundPod(attempt: { recorded?: boolean } = {}): Promise<Bound> {
  const h = endpointHarness();
  const alarms: AuthFailure[] = [];
  h.deps.onAuthFailure = (failure) => alarms.push(failure);
  const pod = aLaunch();
  h.backend.addPod(pod);
  const issued = await issueBootstrapToken(h.store, { podUid: pod.podUid, now: h.clock.now });
  h.backend.bindAttempt(pod.podUid, {
    tokenHash: issued.record.hash,
    instanceBound: true,
    ...(attempt.recorded === false ? {} : { instanceId: '31337' }),
  });
  return { h, podUid: pod.podUid, token: issued.token, alarms };
}

function bootstrap(b: Bound, body: Record<string, unknown>) {
  return handleAgentRequest(
    post('/v1/bootstrap', { podUid: b.podUid, publicKey: wgKeyPair().publicKey, ...body }),
    b.h.deps,
  );
}

describe('checkAttempt (before the token is spent)', () => {
  const token = newSecret();
  const other = newSecret();
  const hash = sha256Hex;
  const current: AttemptView = {
    tokenHash: hash(token),
    instanceBound: true,
    instanceId: '7',
    bootstrapped: false,
  };

  it.each([
    {
      name: 'this attempt, its instance',
      body: { token, instanceId: '7' },
      attempt: current,
      want: undefined,
    },
    {
      name: 'an unbound provider: no instance needed',
      body: { token },
      attempt: { ...current, instanceBound: false },
      want: undefined,
    },
    { name: 'a malformed token', body: { token: 'x' }, attempt: current, want: 'token-malformed' },
    {
      name: "another attempt's token (replaced)",
      body: { token: other, instanceId: '7' },
      attempt: current,
      want: 'token-wrong-attempt',
    },
    {
      name: 'any token once the attempt ended',
      body: { token, instanceId: '7' },
      attempt: { instanceBound: false, bootstrapped: false },
      want: 'token-wrong-attempt',
    },
    {
      name: 'a second bootstrap of the attempt',
      body: { token, instanceId: '7' },
      attempt: { ...current, bootstrapped: true },
      want: 'attempt-bootstrapped',
    },
    { name: 'no instance id', body: { token }, attempt: current, want: 'instance-missing' },
    { name: 'another instance', body: { token, instanceId: '8' }, attempt: current, want: 'instance-wrong' },
    {
      name: "the create's answer not recorded yet",
      body: { token, instanceId: '7' },
      attempt: { tokenHash: hash(token), instanceBound: true, bootstrapped: false },
      want: 'instance-unrecorded',
    },
  ])('$name → $want', ({ body, attempt, want }) => {
    expect(checkAttempt(body, attempt)?.reason).toBe(want);
  });
});

describe('POST /v1/bootstrap bound to the attempt', () => {
  it("admits this attempt's token on its instance, once", async () => {
    const b = await boundPod();
    const first = await bootstrap(b, { token: b.token, instanceId: '31337' });
    expect(first.status).toBe(200);
    const again = await bootstrap(b, { token: b.token, instanceId: '31337' });
    expect([again.status, error(again)]).toEqual([409, 'this attempt already bootstrapped']);
    expect(b.alarms.map((a) => a.reason)).toEqual(['attempt-bootstrapped']);
  });

  it.each([
    {
      name: 'without the instance id',
      body: (t: string) => ({ token: t }),
      status: 401,
      reason: 'instance-missing',
      alarm: false,
    },
    {
      name: 'on another instance',
      body: (t: string) => ({ token: t, instanceId: '999' }),
      status: 401,
      reason: 'instance-wrong',
      alarm: true,
    },
    {
      name: "with another attempt's token",
      body: () => ({ token: newSecret(), instanceId: '31337' }),
      status: 401,
      reason: 'token-wrong-attempt',
      alarm: true,
    },
  ])('refuses $name ($status, $reason) and leaves the token to its own agent', async (row) => {
    const b = await boundPod();
    const refused = await bootstrap(b, row.body(b.token));
    expect(refused.status).toBe(row.status);
    expect(b.h.logger.lines.find((l) => l.message === 'agent credential refused')?.fields).toMatchObject({
      reason: row.reason,
      route: '/v1/bootstrap',
      alarm: row.alarm,
    });
    expect(b.alarms.map((a) => a.reason)).toEqual(row.alarm ? [row.reason] : []);
    expect(b.h.logger.text()).not.toContain(b.token);
    // The refusal spent nothing: the attempt's own agent still gets in.
    expect((await bootstrap(b, { token: b.token, instanceId: '31337' })).status).toBe(200);
  });

  it("asks the agent to retry (503, Retry-After) until the create's answer is recorded", async () => {
    const b = await boundPod({ recorded: false });
    const early = await bootstrap(b, { token: b.token, instanceId: '31337' });
    expect([early.status, early.headers['retry-after']]).toEqual([503, '5']);
    expect(b.alarms).toEqual([]);
    const issuedHash = (await b.h.backend.attempt(b.podUid))?.tokenHash as string;
    b.h.backend.bindAttempt(b.podUid, { tokenHash: issuedHash, instanceBound: true, instanceId: '31337' });
    expect((await bootstrap(b, { token: b.token, instanceId: '31337' })).status).toBe(200);
  });

  it('refuses a token whose attempt ended, and a replacement attempt takes only its own', async () => {
    const b = await boundPod();
    b.h.backend.endAttempt(b.podUid);
    const stale = await bootstrap(b, { token: b.token, instanceId: '31337' });
    expect([stale.status, b.alarms.map((a) => a.reason)]).toEqual([401, ['token-wrong-attempt']]);
    const next = await issueBootstrapToken(b.h.store, { podUid: b.podUid, now: b.h.clock.now });
    b.h.backend.bindAttempt(b.podUid, {
      tokenHash: next.record.hash,
      instanceBound: true,
      instanceId: '4242',
    });
    expect((await bootstrap(b, { token: b.token, instanceId: '4242' })).status).toBe(401);
    expect((await bootstrap(b, { token: next.token, instanceId: '4242' })).status).toBe(200);
  });

  it.each([
    {
      name: "the gateway's key",
      key: (h: EndpointHarness) => h.deps.settings.gatewayPublicKey,
      reason: 'key-gateway',
    },
    { name: "another peer's key", key: () => 'taken', reason: 'key-taken' },
  ])('refuses $name (409, alarm)', async ({ key, reason }) => {
    const b = await boundPod();
    const theirs = wgKeyPair().publicKey;
    await b.h.store.claimAddress('10.250.0.9', 'someone-else', { now: b.h.clock.now });
    await b.h.store.setPeerKey('10.250.0.9', 'someone-else', theirs);
    const publicKey = key(b.h) === 'taken' ? theirs : key(b.h);
    const refused = await bootstrap(b, { token: b.token, instanceId: '31337', publicKey });
    expect(refused.status).toBe(409);
    expect(b.alarms.map((a) => a.reason)).toEqual([reason]);
    const peers = await b.h.store.listAddresses();
    expect(peers.filter((p) => p.publicKey === publicKey).map((p) => p.podUid)).toEqual(
      reason === 'key-taken' ? ['someone-else'] : [],
    );
  });
});

describe('status credential of the current attempt only', () => {
  async function bootstrapped() {
    const b = await boundPod();
    const answer = await bootstrap(b, { token: b.token, instanceId: '31337' });
    const credential = (JSON.parse(answer.body) as { statusCredential: string }).statusCredential;
    return { b, credential };
  }
  const report = (b: Bound, credential: string) =>
    handleAgentRequest(
      post('/v1/status', { podUid: b.podUid, state: 'started' }, { authorization: `Bearer ${credential}` }),
      b.h.deps,
    );
  const alive = (b: Bound, credential: string) =>
    handleAgentRequest(
      {
        method: 'GET',
        path: `/v1/pod-alive?podUid=${b.podUid}`,
        headers: { authorization: `Bearer ${credential}` },
        body: undefined,
      },
      b.h.deps,
    );

  it.each([
    { name: 'the current credential', use: 'current', status: 200, reason: undefined },
    { name: 'a credential of no attempt', use: 'random', status: 401, reason: 'credential-wrong' },
    { name: "an ended attempt's credential", use: 'ended', status: 401, reason: 'credential-revoked' },
  ])('$name: status and pod-alive answer $status', async ({ use, status, reason }) => {
    const { b, credential } = await bootstrapped();
    if (use === 'ended') b.h.backend.endAttempt(b.podUid);
    const presented = use === 'random' ? newSecret() : credential;
    expect((await report(b, presented)).status).toBe(status);
    expect((await alive(b, presented)).status).toBe(status);
    const refusals = b.h.logger.lines.filter((l) => l.message === 'agent credential refused');
    expect(refusals.map((l) => l.fields?.reason)).toEqual(reason === undefined ? [] : [reason, reason]);
    expect(b.h.backend.reports(b.podUid).length).toBe(status === 200 ? 1 : 0);
  });
});

describe('hostText (L6)', () => {
  it.each([
    { name: 'plain words', input: 'exec format error', want: 'exec format error' },
    { name: 'control characters and newlines', input: 'a\u0000b\r\nc\td\u202ee', want: 'a b c d e' },
    { name: 'runs of spaces', input: '  x    y  ', want: 'x y' },
    { name: 'over 200 characters', input: 'z'.repeat(500), want: `${'z'.repeat(199)}…` },
  ])('$name', ({ input, want }) => {
    expect(hostText(input)).toBe(want);
  });

  it('reaches the backend sanitized and cut', async () => {
    const b = await boundPod();
    const answer = await bootstrap(b, { token: b.token, instanceId: '31337' });
    const credential = (JSON.parse(answer.body) as { statusCredential: string }).statusCredential;
    const sent = await handleAgentRequest(
      post(
        '/v1/status',
        { podUid: b.podUid, state: 'failed', reason: `bad\n\u001b[31m${'r'.repeat(400)}` },
        { authorization: `Bearer ${credential}` },
      ),
      b.h.deps,
    );
    expect(sent.status).toBe(200);
    const reason = b.h.backend.reports(b.podUid)[0]?.reason ?? '';
    expect([reason.length, reason.startsWith('bad [31m'), reason.endsWith('…')]).toEqual([200, true, true]);
  });
});

describe('pre-authentication limit (L2)', () => {
  it("keys by route, source address and pod: a flood from one address leaves the pod's agent alone", async () => {
    const b = await boundPod();
    for (let i = 0; i < 25; i += 1) {
      await handleAgentRequest(
        { ...post('/v1/bootstrap', { token: newSecret(), podUid: b.podUid }), sourceIp: '203.0.113.66' },
        b.h.deps,
      );
    }
    const flooded = await handleAgentRequest(
      { ...post('/v1/bootstrap', { token: newSecret(), podUid: b.podUid }), sourceIp: '203.0.113.66' },
      b.h.deps,
    );
    expect(flooded.status).toBe(429);
    const agent = await handleAgentRequest(
      {
        ...post('/v1/bootstrap', {
          token: b.token,
          podUid: b.podUid,
          instanceId: '31337',
          publicKey: wgKeyPair().publicKey,
        }),
        sourceIp: '198.51.100.7',
      },
      b.h.deps,
    );
    expect(agent.status).toBe(200);
  });
});
