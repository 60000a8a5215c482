import { describe, expect, it } from 'vitest';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { storeRateLimiter, tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentLaunch, AgentResponse } from '../../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair, wgPublicFromPrivate } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../../../lib/tunnel/wireproxy-config.ts';
import {
  aLaunch,
  aPin,
  type EndpointHarness,
  endpointHarness,
  tunnelSettings,
} from '../../support/tunnel.ts';

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function parsed(response: AgentResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

async function podWithToken(h: EndpointHarness, launch: Partial<AgentLaunch> = {}, ttlMs = 60_000) {
  const pod = aLaunch(launch);
  h.backend.addPod(pod);
  const { token } = await issueBootstrapToken(h.store, { podUid: pod.podUid, now: h.clock.now, ttlMs });
  return { pod, token };
}

async function bootstrap(h: EndpointHarness, body: Record<string, unknown>) {
  return handleAgentRequest(post('/v1/bootstrap', body), h.deps);
}

describe('POST /v1/bootstrap', () => {
  it('returns the config for an agent-made key and admits the key at the gateway', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h, {
      env: { GW_TUNNEL_5432: 'db.default.svc.cluster.local:5432' },
    });
    const agentKey = wgKeyPair();
    const response = await bootstrap(h, { token, podUid: pod.podUid, publicKey: agentKey.publicKey });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const config = parsed(response);
    expect(config).toMatchObject({
      podUid: pod.podUid,
      address: '10.250.0.2',
      privateKeySource: 'agent',
      argv: ['python', 'train.py'],
    });
    const wireproxy = config.wireproxy as { config: string; binary: { sha256: string } };
    expect(wireproxy.config).toContain(`PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}`);
    expect(wireproxy.config).toContain(
      '[TCPClientTunnel]\nBindAddress = 127.0.0.1:5432\nTarget = db.default.svc.cluster.local:5432',
    );
    expect(wireproxy.config).toContain('Endpoint = 203.0.113.10:51820');
    expect(wireproxy.binary.sha256).toBe('a'.repeat(64));
    expect(await h.store.listAddresses()).toEqual([
      {
        address: '10.250.0.2',
        podUid: pod.podUid,
        publicKey: agentKey.publicKey,
        // what the gateway lets this peer reach: its GW_TUNNEL target (ADR 0020)
        egress: ['db.default.svc.cluster.local:5432'],
        allocatedAt: h.clock.now,
      },
    ]);
    expect(h.backend.storedCredentialHashes()).toEqual([sha256Hex(config.statusCredential as string)]);
  });

  it.each([
    ['no declared ports: an empty list', {}, [], undefined],
    [
      "the app container's and each init container's declared TCP ports",
      {
        ports: [8080, 9090],
        initContainers: [
          { name: 'proxy', command: ['proxy'], args: [], env: {}, sidecar: true, ports: [3000] },
        ],
      },
      [8080, 9090],
      [[3000]],
    ],
  ])('answers %s (ports, ADR 0023)', async (_what, launch, ports, initPorts) => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h, launch);
    const config = parsed(await bootstrap(h, { token, podUid: pod.podUid }));
    expect(config.ports).toEqual(ports);
    expect((config.initContainers as { ports: number[] }[] | undefined)?.map((i) => i.ports)).toEqual(
      initPorts,
    );
  });

  it('makes the key pair itself when the agent cannot, returning the private key once', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h);
    const config = parsed(await bootstrap(h, { token, podUid: pod.podUid }));
    expect(config.privateKeySource).toBe('endpoint');
    const privateKey = /PrivateKey = (\S+)/.exec((config.wireproxy as { config: string }).config)?.[1] ?? '';
    const [allocation] = await h.store.listAddresses();
    expect(allocation?.publicKey).toBe(wgPublicFromPrivate(privateKey));
    expect(JSON.stringify(await h.store.listAddresses())).not.toContain(privateKey);
  });

  it('gives a wstunnel pod the local relay endpoint and the client command with the prefix in env', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h, { transport: 'wstunnel' });
    const config = parsed(await bootstrap(h, { token, podUid: pod.podUid, arch: 'arm64' }));
    expect((config.wireproxy as { config: string }).config).toContain('Endpoint = 127.0.0.1:51820');
    expect(config.wstunnel).toMatchObject({
      args: [
        'client',
        '--tls-verify-certificate',
        '-L',
        'udp://127.0.0.1:51820:127.0.0.1:51820?timeout_sec=0',
        'wss://wg-gw.example.com',
      ],
      env: { WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX: 'prefix-secret-for-tests-only' },
    });
  });

  it('refuses the retired shell bundle format (agent.sh), saying so, without spending the token', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h);
    const response = await bootstrap(h, { token, podUid: pod.podUid, format: 'shell' });
    expect(response.status).toBe(400);
    expect(parsed(response).error).toContain(
      'format must be "json" (agent.sh and its "shell" bundle are retired',
    );
    expect((await bootstrap(h, { token, podUid: pod.podUid })).status).toBe(200);
  });

  it.each([
    [
      'a wrong token',
      async (_h: EndpointHarness, t: string) => ({
        token: `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`,
      }),
      'unknown',
    ],
    [
      'an expired token',
      async (h: EndpointHarness) => {
        h.clock.now += 61_000;
        return {};
      },
      'expired',
    ],
    [
      'a replayed token',
      async (h: EndpointHarness, t: string, uid: string) => {
        await bootstrap(h, { token: t, podUid: uid });
        return {};
      },
      'used',
    ],
    [
      "another pod's token",
      async (h: EndpointHarness) => {
        const other = aLaunch();
        h.backend.addPod(other);
        return { podUid: other.podUid };
      },
      'wrong-pod',
    ],
  ])('rejects %s with 401', async (_label, arrange, reason) => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h);
    const change = await arrange(h, token, pod.podUid);
    const response = await bootstrap(h, { token, podUid: pod.podUid, ...change });
    expect(response.status).toBe(401);
    expect(parsed(response)).toEqual({ error: `bootstrap token rejected (${reason})` });
  });

  it('refuses a pod that is gone with 410', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h);
    h.backend.endPod(pod.podUid);
    expect((await bootstrap(h, { token, podUid: pod.podUid })).status).toBe(410);
  });

  it.each([
    ['wireproxy', 'udp', 503],
    ['wireproxy', 'wstunnel', 503],
    ['wstunnel', 'wstunnel', 503],
    // a UDP agent never downloads wstunnel, so its unverified pin does not block it
    ['wstunnel', 'udp', 200],
  ] as const)('with the %s checksum unset, a %s pod gets %i', async (unset, transport, status) => {
    const pin = (name: 'wireproxy' | 'wstunnel') => aPin(name, name === unset ? { sha256: undefined } : {});
    const h = endpointHarness(
      tunnelSettings({ binaries: { wireproxy: pin('wireproxy'), wstunnel: pin('wstunnel') } }),
    );
    const { pod, token } = await podWithToken(h, { transport });
    const response = await bootstrap(h, { token, podUid: pod.podUid });
    expect(response.status).toBe(status);
    if (status === 503) expect(parsed(response).error).toContain('checksums unset');
  });

  it('asks binaryPins for per-bootstrap pins (e.g. presigned URLs) with the agent architecture', async () => {
    const h = endpointHarness();
    const asked: string[] = [];
    const deps = {
      ...h.deps,
      binaryPins: async (arch: 'amd64' | 'arm64') => {
        asked.push(arch);
        const asset = { url: `https://signed.example.com/${arch}?X-Amz-Expires=900`, sha256: 'c'.repeat(64) };
        return { wireproxy: aPin('wireproxy', asset), wstunnel: aPin('wstunnel') };
      },
    };
    const { pod, token } = await podWithToken(h);
    const response = await handleAgentRequest(
      post('/v1/bootstrap', { token, podUid: pod.podUid, arch: 'arm64' }),
      deps,
    );
    expect(response.status).toBe(200);
    expect(asked).toEqual(['arm64']);
    const wireproxy = parsed(response).wireproxy as { binary: { url: string; sha256: string } };
    expect(wireproxy.binary).toMatchObject({
      url: 'https://signed.example.com/arm64?X-Amz-Expires=900',
      sha256: 'c'.repeat(64),
    });
  });

  it('names every invalid GW_TUNNEL variable with 422', async () => {
    const h = endpointHarness();
    const { pod, token } = await podWithToken(h, { env: { GW_TUNNEL_3128: 'a.b:1', GW_TUNNEL_x: 'a.b:1' } });
    const response = await bootstrap(h, { token, podUid: pod.podUid });
    expect(response.status).toBe(422);
    expect(parsed(response).error).toContain('GW_TUNNEL_3128');
    expect(parsed(response).error).toContain('GW_TUNNEL_x');
  });

  it.each([
    ['a body over 16 KiB', 'x'.repeat(17 * 1024), 413, 'exceeds 16384 bytes'],
    ['a body that is not JSON', '{', 400, 'not JSON'],
    ['a missing token', JSON.stringify({ podUid: '00000000-0000-0000-0000-000000000000' }), 400, 'token'],
    [
      'an unknown field',
      JSON.stringify({ token: 't', podUid: '00000000-0000-0000-0000-000000000000', extra: 1 }),
      400,
      'extra',
    ],
    [
      'a malformed public key',
      JSON.stringify({ token: 't', podUid: '00000000-0000-0000-0000-000000000000', publicKey: 'x' }),
      400,
      'publicKey',
    ],
  ])('rejects %s', async (_label, body, status, message) => {
    const h = endpointHarness();
    const response = await handleAgentRequest(
      { method: 'POST', path: '/v1/bootstrap', headers: {}, body },
      h.deps,
    );
    expect(response.status).toBe(status);
    expect(parsed(response).error).toContain(message);
  });
});

describe('routing', () => {
  it.each([
    ['GET', '/v1/bootstrap', 405],
    ['POST', '/v1/nothing', 404],
    ['DELETE', '/v1/status', 405],
  ])('%s %s → %i', async (method, path, status) => {
    const response = await handleAgentRequest(
      { method, path, headers: {}, body: undefined },
      endpointHarness().deps,
    );
    expect(response.status).toBe(status);
    expect(parsed(response).error).toBeTypeOf('string');
  });
});

async function bootstrapped(h: EndpointHarness) {
  const { pod, token } = await podWithToken(h);
  const config = parsed(await bootstrap(h, { token, podUid: pod.podUid }));
  return { pod, credential: config.statusCredential as string };
}

describe('POST /v1/status and GET /v1/pod-alive', () => {
  it('records reports authenticated by the pod credential', async () => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    const auth = { authorization: `Bearer ${credential}` };
    expect(
      (await handleAgentRequest(post('/v1/status', { podUid: pod.podUid, state: 'started' }, auth), h.deps))
        .status,
    ).toBe(200);
    const exited = await handleAgentRequest(
      post('/v1/status', { podUid: pod.podUid, state: 'exited', exitCode: 3 }, auth),
      h.deps,
    );
    expect(parsed(exited)).toEqual({ recorded: true, alive: true });
    expect(h.backend.reports(pod.podUid).map((r) => [r.state, r.exitCode])).toEqual([
      ['started', undefined],
      ['exited', 3],
    ]);
  });

  it.each([
    ['no credential', {}],
    ['a wrong credential', { authorization: `Bearer ${newSecret()}` }],
    ['a malformed header', { authorization: 'Basic abc' }],
  ])('refuses %s with 401', async (_label, headers) => {
    const h = endpointHarness();
    const { pod } = await bootstrapped(h);
    const response = await handleAgentRequest(
      post('/v1/status', { podUid: pod.podUid, state: 'started' }, headers),
      h.deps,
    );
    expect(response.status).toBe(401);
    expect(h.backend.reports(pod.podUid)).toEqual([]);
  });

  it("refuses one pod's credential for another pod", async () => {
    const h = endpointHarness();
    const a = await bootstrapped(h);
    const b = await bootstrapped(h);
    const response = await handleAgentRequest(
      post(
        '/v1/status',
        { podUid: b.pod.podUid, state: 'failed' },
        { authorization: `Bearer ${a.credential}` },
      ),
      h.deps,
    );
    expect(response.status).toBe(401);
  });

  it.each([
    ['exited without exitCode', { state: 'exited' }, 'exitCode'],
    ['evicted without message (protocol 4)', { state: 'evicted' }, 'message'],
    ['a container name that is not a DNS label', { state: 'started', container: 'Side_Car' }, 'container'],
  ])('refuses %s with a 400 naming the field', async (_what, body, field) => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    const response = await handleAgentRequest(
      post('/v1/status', { podUid: pod.podUid, ...body }, { authorization: `Bearer ${credential}` }),
      h.deps,
    );
    expect(response.status).toBe(400);
    expect(parsed(response).error).toContain(field);
  });

  it('takes an eviction report with its message (protocol 4)', async () => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    const message = 'Usage of EmptyDir volume "scratch" exceeds the limit "1024".';
    const response = await handleAgentRequest(
      post(
        '/v1/status',
        { podUid: pod.podUid, state: 'evicted', reason: 'Evicted', message },
        { authorization: `Bearer ${credential}` },
      ),
      h.deps,
    );
    expect(response.status).toBe(200);
  });

  it('tells the agent whether its pod is alive', async () => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    const ask = () =>
      handleAgentRequest(
        {
          method: 'GET',
          path: `/v1/pod-alive?podUid=${pod.podUid}`,
          headers: { Authorization: `Bearer ${credential}` },
          body: undefined,
        },
        h.deps,
      );
    expect(parsed(await ask())).toEqual({ alive: true });
    h.backend.endPod(pod.podUid, 25);
    expect(parsed(await ask())).toEqual({ alive: false, graceSeconds: 25 });
  });

  it('limits requests per pod', async () => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    const statuses: number[] = [];
    for (let i = 0; i < 25; i += 1) {
      const r = await handleAgentRequest(
        post(
          '/v1/status',
          { podUid: pod.podUid, state: 'started' },
          { authorization: `Bearer ${credential}` },
        ),
        h.deps,
      );
      statuses.push(r.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    h.clock.now += 5_000;
    const later = await handleAgentRequest(
      post('/v1/status', { podUid: pod.podUid, state: 'started' }, { authorization: `Bearer ${credential}` }),
      h.deps,
    );
    expect(later.status).toBe(200);
  });

  it('applies the shared (table) limit only after authentication, across endpoint processes', async () => {
    const h = endpointHarness();
    const { pod, credential } = await bootstrapped(h);
    // Two processes with their own memory buckets and one table, as two Lambda containers.
    const shared = storeRateLimiter(h.store, { limit: 3, windowMs: 60_000 });
    const processes = [0, 1].map(() => ({
      ...h.deps,
      rateLimiter: tokenBucketLimiter({ capacity: 20, refillPerSecond: 1 }),
      sharedLimiter: shared,
    }));
    const report = (deps: (typeof processes)[number], auth: string) =>
      handleAgentRequest(
        post('/v1/status', { podUid: pod.podUid, state: 'started' }, { authorization: `Bearer ${auth}` }),
        deps,
      ).then((r) => r.status);
    // Wrong credentials are refused before the shared limit: they use none of it.
    for (const deps of processes) expect(await report(deps, 'not-the-credential')).toBe(401);
    const statuses: number[] = [];
    for (const deps of [...processes, ...processes]) statuses.push(await report(deps, credential));
    expect(statuses).toEqual([200, 200, 200, 429]);
    h.clock.now += 60_000;
    expect(await report(processes[1] as (typeof processes)[number], credential)).toBe(200);
  });
});

describe('GET /v1/peers', () => {
  it('serves the bootstrapped peers to the gateway only', async () => {
    const gatewayToken = newSecret();
    const h = endpointHarness(tunnelSettings({ gatewayTokenHash: sha256Hex(gatewayToken) }));
    const { pod } = await bootstrapped(h);
    const get = (headers: Record<string, string>, query = '') =>
      handleAgentRequest({ method: 'GET', path: `/v1/peers${query}`, headers, body: undefined }, h.deps);
    expect((await get({})).status).toBe(401);
    expect((await get({ authorization: `Bearer ${newSecret()}` })).status).toBe(401);
    const peers = parsed(await get({ authorization: `Bearer ${gatewayToken}` })).peers as {
      podUid: string;
      address: string;
    }[];
    expect(peers.map((p) => [p.podUid, p.address])).toEqual([[pod.podUid, '10.250.0.2']]);
    const wg = await get({ authorization: `Bearer ${gatewayToken}` }, '?format=wg');
    expect(wg.body).toMatch(/^\[Peer\]\nPublicKey = \S{44}\nAllowedIPs = 10\.250\.0\.2\/32\n$/);
  });

  it('is off when no gateway credential is configured', async () => {
    const response = await handleAgentRequest(
      { method: 'GET', path: '/v1/peers', headers: {}, body: undefined },
      endpointHarness().deps,
    );
    expect(response.status).toBe(404);
  });
});

describe('logs', () => {
  it('never contain tokens, credentials, keys or the wstunnel prefix', async () => {
    const h = endpointHarness();
    const secrets: string[] = ['prefix-secret-for-tests-only'];
    for (const transport of ['udp', 'wstunnel'] as const) {
      const { pod, token } = await podWithToken(h, { transport });
      secrets.push(token);
      await bootstrap(h, { token, podUid: pod.podUid }); // replay below logs a rejection
      const config = parsed(await bootstrap(h, { token, podUid: pod.podUid }));
      expect(config.error).toBeDefined();
    }
    const { pod, token } = await podWithToken(h);
    const config = parsed(await bootstrap(h, { token, podUid: pod.podUid }));
    secrets.push(token, config.statusCredential as string);
    secrets.push(
      /PrivateKey = (\S+)/.exec((config.wireproxy as { config: string }).config)?.[1] ?? 'missing',
    );
    await handleAgentRequest(
      post(
        '/v1/status',
        { podUid: pod.podUid, state: 'started' },
        { authorization: `Bearer ${newSecret()}` },
      ),
      h.deps,
    );
    expect(h.logger.lines.length).toBeGreaterThan(4);
    const text = h.logger.text();
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('transport none (no gateway configured)', () => {
  it('bootstraps without a tunnel and without any helper pins, even unverified ones', async () => {
    const h = endpointHarness(
      tunnelSettings({
        binaries: {
          wireproxy: aPin('wireproxy', { sha256: undefined }),
          wstunnel: aPin('wstunnel', { sha256: undefined }),
        },
      }),
    );
    const { pod, token } = await podWithToken(h, { transport: 'none' });
    const response = await bootstrap(h, { token, podUid: pod.podUid, publicKey: wgKeyPair().publicKey });
    expect(response.status).toBe(200);
    const config = parsed(response);
    expect(config).toMatchObject({ podUid: pod.podUid, argv: ['python', 'train.py'] });
    expect(config).not.toHaveProperty('wireproxy');
    expect(config).not.toHaveProperty('wstunnel');
  });
});

describe('GET /v1/agent/<arch> (what the launch stub downloads)', () => {
  const get = (path: string, method = 'GET') => ({ method, path, headers: {}, body: '' });
  it.each([
    [
      'redirects to the download of that architecture',
      'GET',
      '/v1/agent/arm64',
      302,
      'https://dl.example.com/agent-arm64',
    ],
    ['answers HEAD the same way', 'HEAD', '/v1/agent/amd64', 302, 'https://dl.example.com/agent-amd64'],
    ['refuses an unknown architecture, naming the served paths', 'GET', '/v1/agent/riscv64', 404, undefined],
    ['refuses other methods', 'POST', '/v1/agent/amd64', 405, undefined],
  ])('%s', async (_label, method, path, status, location) => {
    const h = endpointHarness();
    h.deps.agentDownload = async (arch) => `https://dl.example.com/agent-${arch}`;
    const response = await handleAgentRequest(get(path, method), h.deps);
    expect(response.status).toBe(status);
    expect(response.headers.location).toBe(location);
    if (status === 404) expect(parsed(response).error).toContain('/v1/agent/amd64, /v1/agent/arm64');
  });

  it('says 503 (retry) when the download cannot be signed', async () => {
    const h = endpointHarness();
    h.deps.agentDownload = async () => {
      throw new Error('no credentials');
    };
    const response = await handleAgentRequest(get('/v1/agent/amd64'), h.deps);
    expect(response.status).toBe(503);
    expect(response.body).not.toContain('credentials');
  });

  it('says 503 when this endpoint has no agent binary configured', async () => {
    const response = await handleAgentRequest(get('/v1/agent/amd64'), endpointHarness().deps);
    expect(response.status).toBe(503);
    expect(parsed(response).error).toContain('no agent binary to serve');
  });
});
