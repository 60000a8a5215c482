import { describe, expect, it } from 'vitest';
import { APP_CONTAINER } from '../../../lib/state/store.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { LOG_ENTRIES_MAX, LOG_LINE_MAX_BYTES, LogsBody } from '../../../lib/tunnel/endpoint/logs.ts';
import { storeRateLimiter, tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentResponse, AuthFailure } from '../../../lib/tunnel/endpoint/types.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { aLaunch, type EndpointHarness, endpointHarness, tunnelSettings } from '../../support/tunnel.ts';

// POST /v1/logs (the agent saves a run's tail) and GET /v1/logs (the kubelet API reads it), ADR 0023 §5.

const GATEWAY_TOKEN = newSecret();
const SECRET_TEXT = 'the user printed this: password=hunter2';

function harness(): EndpointHarness & { failures: AuthFailure[] } {
  const h = endpointHarness(tunnelSettings({ gatewayTokenHash: sha256Hex(GATEWAY_TOKEN) }));
  const failures: AuthFailure[] = [];
  h.deps.onAuthFailure = (failure) => failures.push(failure);
  return { ...h, failures };
}

async function bootstrapped(h: EndpointHarness) {
  const pod = aLaunch();
  h.backend.addPod(pod);
  const { token } = await issueBootstrapToken(h.store, {
    podUid: pod.podUid,
    now: h.clock.now,
    ttlMs: 60_000,
  });
  const response = await handleAgentRequest(
    {
      method: 'POST',
      path: '/v1/bootstrap',
      headers: {},
      body: JSON.stringify({ token, podUid: pod.podUid }),
    },
    h.deps,
  );
  const config = JSON.parse(response.body) as { statusCredential: string };
  return { podUid: pod.podUid, credential: config.statusCredential };
}

function entry(l: string, s: 'stdout' | 'stderr' = 'stdout') {
  return { t: '2026-11-26T12:00:00.123456789Z', s, l };
}

function aTail(podUid: string, overrides: Record<string, unknown> = {}) {
  return {
    podUid,
    run: 0,
    entries: [entry('hello'), entry(SECRET_TEXT, 'stderr')],
    dropped: 0,
    ...overrides,
  };
}

function save(h: EndpointHarness, body: unknown, credential: string | undefined) {
  return handleAgentRequest(
    {
      method: 'POST',
      path: '/v1/logs',
      headers: credential === undefined ? {} : { authorization: `Bearer ${credential}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    },
    h.deps,
  );
}

function read(h: EndpointHarness, query: string, token: string | null = GATEWAY_TOKEN) {
  return handleAgentRequest(
    {
      method: 'GET',
      path: `/v1/logs?${query}`,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      body: undefined,
    },
    h.deps,
  );
}

const parsed = (r: AgentResponse) => JSON.parse(r.body) as Record<string, unknown>;

describe('POST /v1/logs', () => {
  it('saves the tail under the app container and answers saved', async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    const response = await save(h, aTail(podUid, { dropped: 7 }), credential);
    expect([response.status, parsed(response)]).toEqual([200, { saved: true }]);
    const tail = await h.store.getLogTail(podUid, APP_CONTAINER);
    expect(tail?.current).toEqual({
      run: 0,
      entries: aTail(podUid).entries,
      dropped: 7,
      savedAt: h.clock.now,
    });
  });

  it('keeps the newest two runs: a newer run pushes the current one to previous; a replay or older run is ignored with 200', async () => {
    const cases = [
      { runs: [0, 1], saved: [true, true], current: 1, previous: 0 },
      { runs: [0, 1, 2], saved: [true, true, true], current: 2, previous: 1 },
      { runs: [1, 1], saved: [true, false], current: 1, previous: undefined },
      { runs: [2, 0], saved: [true, false], current: 2, previous: undefined },
    ];
    for (const c of cases) {
      const h = harness();
      const { podUid, credential } = await bootstrapped(h);
      const answers: unknown[] = [];
      for (const run of c.runs) {
        const response = await save(h, aTail(podUid, { run, entries: [entry(`run ${run}`)] }), credential);
        answers.push([response.status, parsed(response).saved]);
      }
      expect(answers).toEqual(c.saved.map((s) => [200, s]));
      const tail = await h.store.getLogTail(podUid, APP_CONTAINER);
      expect([tail?.current.run, tail?.previous?.run]).toEqual([c.current, c.previous]);
      expect(tail?.current.entries).toEqual([entry(`run ${c.current}`)]);
    }
  });

  it('keeps init containers and sidecars apart from the app container', async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    await save(h, aTail(podUid, { run: 3 }), credential);
    await save(h, aTail(podUid, { container: 'setup', entries: [entry('init')] }), credential);
    expect((await h.store.getLogTail(podUid, APP_CONTAINER))?.current.run).toBe(3);
    expect((await h.store.getLogTail(podUid, 'setup'))?.current.entries).toEqual([entry('init')]);
  });

  it.each([
    ['no credential', (): string | undefined => undefined, 'credential-missing', false],
    ['a wrong credential', (): string | undefined => newSecret(), 'credential-wrong', true],
  ] as const)(
    'refuses %s with 401, counted as /v1/status counts it',
    async (_what, credential, reason, alarm) => {
      const h = harness();
      const { podUid } = await bootstrapped(h);
      const response = await save(h, aTail(podUid), credential());
      expect(response.status).toBe(401);
      expect(await h.store.getLogTail(podUid, APP_CONTAINER)).toBeUndefined();
      expect(h.logger.lines).toContainEqual({
        level: 'warn',
        message: 'agent credential refused',
        fields: { reason, route: '/v1/logs', podUid, alarm },
      });
      expect(h.failures).toEqual(alarm ? [{ reason, route: '/v1/logs', podUid }] : []);
    },
  );

  it("refuses another pod's credential, and a credential once the attempt ended", async () => {
    const h = harness();
    const a = await bootstrapped(h);
    const b = await bootstrapped(h);
    expect((await save(h, aTail(b.podUid), a.credential)).status).toBe(401);
    h.backend.endPod(a.podUid, 0);
    await h.backend.saveStatusCredential(a.podUid, sha256Hex(newSecret()));
    expect((await save(h, aTail(a.podUid), a.credential)).status).toBe(401);
  });

  const line = (n: number) => 'x'.repeat(n);
  it.each([
    ['a line over 16 KiB', { entries: [entry(line(LOG_LINE_MAX_BYTES + 1))] }, 400, 'entries.0.l'],
    [
      'more than 64 KiB of line text',
      { entries: Array.from({ length: 5 }, () => entry(line(LOG_LINE_MAX_BYTES - 100))) },
      400,
      'entries',
    ],
    [
      'a body over 80 KiB',
      { entries: Array.from({ length: 5000 }, () => entry('y'.repeat(12))) },
      413,
      '81920',
    ],
    ['a time that is not RFC 3339', { entries: [{ ...entry('a'), t: '12:00' }] }, 400, 'entries.0.t'],
    [
      'a stream that is neither stdout nor stderr',
      { entries: [{ ...entry('a'), s: 'stdin' }] },
      400,
      'entries.0.s',
    ],
    ['a negative run', { run: -1 }, 400, 'run'],
    ['a fractional dropped', { dropped: 1.5 }, 400, 'dropped'],
    ['a container name that is not a DNS label', { container: 'Side_Car' }, 400, 'container'],
    ['an unknown field', { extra: 1 }, 400, 'extra'],
    ['a missing run', { run: undefined }, 400, 'run'],
  ])('refuses %s (%i) naming it, saving nothing', async (_what, overrides, status, named) => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    const response = await save(h, aTail(podUid, overrides), credential);
    expect(response.status).toBe(status);
    expect(parsed(response).error).toContain(named);
    expect(await h.store.getLogTail(podUid, APP_CONTAINER)).toBeUndefined();
  });

  it('takes a tail at its bounds: 64 KiB of text in lines of 16 KiB, nanosecond times', async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    const big = Array.from({ length: 4 }, () => entry(line(LOG_LINE_MAX_BYTES)));
    expect((await save(h, aTail(podUid, { entries: big }), credential)).status).toBe(200);
    expect((await h.store.getLogTail(podUid, APP_CONTAINER))?.current.entries).toEqual(big);
  });

  it('bounds the entries at 5000 (behind the 80 KiB body limit, which binds first over HTTP)', () => {
    const entries = (n: number) =>
      Array.from({ length: n }, () => ({ t: '2026-11-26T12:00:00Z', s: 'stdout', l: '' }));
    const body = (n: number) => ({
      podUid: '00000000-0000-0000-0000-000000000001',
      run: 0,
      dropped: 0,
      entries: entries(n),
    });
    expect(LogsBody.safeParse(body(LOG_ENTRIES_MAX)).success).toBe(true);
    const over = LogsBody.safeParse(body(LOG_ENTRIES_MAX + 1));
    expect(over.error?.issues.map((i) => i.path.join('.'))).toEqual(['entries']);
  });

  it('limits requests per pod before and after authentication', async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    h.deps.rateLimiter = tokenBucketLimiter({ capacity: 3, refillPerSecond: 0 });
    const statuses: number[] = [];
    for (let run = 0; run < 4; run++)
      statuses.push((await save(h, aTail(podUid, { run }), credential)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const shared = harness();
    const other = await bootstrapped(shared);
    shared.deps.sharedLimiter = storeRateLimiter(shared.store, { limit: 1, windowMs: 60_000 });
    const after: number[] = [];
    for (let run = 0; run < 2; run++)
      after.push((await save(shared, aTail(other.podUid, { run }), other.credential)).status);
    expect(after).toEqual([200, 429]);
  });

  it("never logs the user's text", async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    await save(h, aTail(podUid), credential);
    await read(h, `pod=${podUid}`);
    expect(h.logger.text()).not.toContain('hunter2');
    expect(h.logger.lines).toContainEqual({
      level: 'info',
      message: 'agent log tail',
      fields: { podUid, container: '(app)', run: 0, lines: 2, dropped: 0, outcome: 'saved' },
    });
  });
});

describe('GET /v1/logs', () => {
  async function withTwoRuns() {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    await save(h, aTail(podUid, { run: 0, entries: [entry('first run')], dropped: 2 }), credential);
    await save(h, aTail(podUid, { run: 1, entries: [entry('second run')] }), credential);
    await save(h, aTail(podUid, { container: 'setup', entries: [entry('init output')] }), credential);
    return { h, podUid };
  }

  it.each([
    ['the current run of the app container', '', [entry('second run')], 0],
    [
      'the same with previous=false and an empty container',
      '&container=&previous=false',
      [entry('second run')],
      0,
    ],
    ['the previous run', '&previous=true', [entry('first run')], 2],
    ['an init container', '&container=setup', [entry('init output')], 0],
  ])('answers %s', async (_what, query, entries, dropped) => {
    const { h, podUid } = await withTwoRuns();
    const response = await read(h, `pod=${podUid}${query}`);
    expect([response.status, parsed(response)]).toEqual([200, { entries, dropped }]);
  });

  it.each([
    ['a container with no tail', '&container=other', 'no log tail saved for pod <uid>, container other'],
    [
      'a previous run never saved',
      '&container=setup&previous=true',
      'no log tail of the previous run saved for pod <uid>, container setup',
    ],
  ])('answers 404 for %s', async (_what, query, message) => {
    const { h, podUid } = await withTwoRuns();
    const response = await read(h, `pod=${podUid}${query}`);
    expect([response.status, parsed(response).error]).toEqual([404, message.replace('<uid>', podUid)]);
  });

  it('answers 404 once the pod record (and with it the tail) is deleted', async () => {
    const { h, podUid } = await withTwoRuns();
    await h.store.deletePod(podUid);
    expect((await read(h, `pod=${podUid}`)).status).toBe(404);
  });

  it.each([
    ['a missing pod', 'container=setup', 'pod'],
    ['a pod that is not a UID', 'pod=abc', 'pod'],
    [
      'a container that is not a DNS label',
      'pod=00000000-0000-0000-0000-000000000001&container=A_B',
      'container',
    ],
    [
      'previous that is not true or false',
      'pod=00000000-0000-0000-0000-000000000001&previous=yes',
      'previous',
    ],
  ])('refuses %s with a 400 naming the parameter', async (_what, query, parameter) => {
    const h = harness();
    const response = await read(h, query);
    expect(response.status).toBe(400);
    expect(parsed(response).error).toBe(
      `query parameter ${parameter} must be ${
        parameter === 'pod'
          ? 'a pod UID'
          : parameter === 'container'
            ? 'a container name (a DNS label)'
            : 'true or false'
      }`,
    );
  });

  it.each([
    ['no credential', null],
    ['a wrong credential', newSecret()],
  ])('refuses %s with 401', async (_what, token) => {
    const { h, podUid } = await withTwoRuns();
    const response = await read(h, `pod=${podUid}`, token);
    expect(response.status).toBe(401);
    expect(response.body).not.toContain('second run');
  });

  it("refuses the agent's status credential (it is not the gateway's)", async () => {
    const h = harness();
    const { podUid, credential } = await bootstrapped(h);
    await save(h, aTail(podUid), credential);
    expect((await read(h, `pod=${podUid}`, credential)).status).toBe(401);
  });

  it('is off (404) when no gateway credential is configured', async () => {
    const h = endpointHarness();
    const response = await read(h, 'pod=00000000-0000-0000-0000-000000000001');
    expect(response.status).toBe(404);
    expect(parsed(response).error).toBe('the log tail route is not enabled on this endpoint');
  });

  it('is not allowed with other methods', async () => {
    const h = harness();
    const response = await handleAgentRequest(
      { method: 'PUT', path: '/v1/logs', headers: {}, body: '' },
      h.deps,
    );
    expect([response.status, response.headers.allow]).toEqual([405, 'POST, GET']);
  });
});

describe('GET /v1/peers with X-Anex-Kubelet-Address (ADR 0023 §3)', () => {
  function sync(h: EndpointHarness, headers: Record<string, string> = {}) {
    return handleAgentRequest(
      {
        method: 'GET',
        path: '/v1/peers?format=wg',
        headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, ...headers },
        body: undefined,
      },
      h.deps,
    );
  }

  it('records the address with the time, rewriting it when it changes or once a minute', async () => {
    const h = harness();
    expect((await sync(h, { 'X-Anex-Kubelet-Address': '10.0.3.7:10250' })).status).toBe(200);
    expect(await h.store.getKubeletAddress()).toEqual({
      ip: '10.0.3.7',
      port: 10250,
      reportedAt: h.clock.now,
    });
    const first = h.clock.now;
    h.clock.now += 10_000;
    await sync(h, { 'x-anex-kubelet-address': '10.0.3.7:10250' });
    expect((await h.store.getKubeletAddress())?.reportedAt).toBe(first);
    h.clock.now += 50_000;
    await sync(h, { 'x-anex-kubelet-address': '10.0.3.7:10250' });
    expect((await h.store.getKubeletAddress())?.reportedAt).toBe(h.clock.now);
    h.clock.now += 1_000;
    await sync(h, { 'x-anex-kubelet-address': '10.0.9.9:10250' });
    expect(await h.store.getKubeletAddress()).toEqual({
      ip: '10.0.9.9',
      port: 10250,
      reportedAt: h.clock.now,
    });
  });

  it.each(['gateway:10250', '10.0.3.7:0', '10.0.3.7:70000', '::1:10250', ''])(
    'ignores %j with a warning, serving the peer list',
    async (value) => {
      const h = harness();
      const response = await sync(h, { 'x-anex-kubelet-address': value });
      expect(response.status).toBe(200);
      expect(await h.store.getKubeletAddress()).toBeUndefined();
      expect(h.logger.lines.map((l) => l.message)).toContain(
        'ignored a malformed X-Anex-Kubelet-Address (want <ipv4>:<port>)',
      );
    },
  );

  it('serves the peer list when the address cannot be recorded', async () => {
    const h = harness();
    h.store.putKubeletAddress = async () => {
      throw new Error('table unavailable');
    };
    expect((await sync(h, { 'x-anex-kubelet-address': '10.0.3.7:10250' })).status).toBe(200);
    expect(h.logger.lines.map((l) => l.message)).toContain(
      'could not record the kubelet API address; the peer list is served anyway',
    );
  });

  it('records nothing without the header, or from a caller without the gateway credential', async () => {
    const h = harness();
    await sync(h);
    const refused = await handleAgentRequest(
      {
        method: 'GET',
        path: '/v1/peers',
        headers: { authorization: `Bearer ${newSecret()}`, 'x-anex-kubelet-address': '10.6.6.6:10250' },
        body: undefined,
      },
      h.deps,
    );
    expect(refused.status).toBe(401);
    expect(await h.store.getKubeletAddress()).toBeUndefined();
  });
});
