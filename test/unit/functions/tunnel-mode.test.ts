import { describe, expect, it } from 'vitest';
import { serveAgent } from '../../../functions/agent.ts';
import { handlePodEvents } from '../../../functions/pod-events.ts';
import { agentRootFor } from '../../../functions/support/agent-root.ts';
import type { Deadline } from '../../../functions/support/deadline.ts';
import { launchFor, type ReconcilerRoot } from '../../../functions/support/reconciler-root.ts';
import { tunnelModeFor } from '../../../functions/support/tunnel-mode.ts';
import { loadConfigFromEnv, reconcileConfig, virtualNodes } from '../../../lib/config/config.ts';
import { Secret } from '../../../lib/config/secrets.ts';
import { InvalidInputError } from '../../../lib/errors.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { AGENT_ENV } from '../../../lib/tunnel/agent/env.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';
import { anOffer, aRunPodOffer } from '../../support/offer-builders.ts';

const AGENT_URL = 'https://agent.lambda-url.eu-west-1.on.aws';
const GATEWAY_KEY = wgKeyPair().publicKey;
const PREFIX = new Secret('prefix-0123456789');
const asset = (arch: string) => ({
  url: `https://dl.example/wp-${arch}`,
  sha256: 'a'.repeat(64),
  format: 'binary',
});
const pin = { version: 'v1', assets: { amd64: asset('amd64'), arm64: asset('arm64') } };

/** Every tunnel variable the stack passes through `anex:environment` (docs/deploy.md). */
const TUNNEL_ON = {
  ANEX_AGENT_ENDPOINT_URL: AGENT_URL,
  ANEX_GATEWAY_PUBLIC_KEY: GATEWAY_KEY,
  ANEX_GATEWAY_UDP_ENDPOINT: 'gw.example.com:51820',
  ANEX_GATEWAY_WSS_URL: 'wss://gw.example.com',
  ANEX_CLUSTER_CIDRS: '10.96.0.0/12',
  ANEX_AGENT_BINARIES: JSON.stringify({ wireproxy: pin, wstunnel: pin }),
};

function aDeadline(): Deadline {
  return { at: Date.now() + 60_000, signal: new AbortController().signal };
}

/** The two function roots over one in-memory store and cluster, as the stack composes them. */
function aDeployment(env: Record<string, string>, prefix: Secret | null = PREFIX) {
  // the test pods' namespace is enabled for renting explicitly, as an operator would (ADR 0019)
  const config = loadConfigFromEnv({ ...env, ANEX_RENT_NAMESPACES: '*' });
  const secret = prefix === null ? {} : { wstunnelPathPrefix: prefix };
  const mode = tunnelModeFor(config, secret, { env, role: 'launch' });
  const endpointMode = tunnelModeFor(config, secret, { env, role: 'endpoint' });
  const store = new MemoryStore();
  const cluster = new MemoryCluster();
  const providers = { vastai: new FakeProvider('vastai'), runpod: new FakeProvider('runpod') };
  providers.vastai.offers = [anOffer({ gpuName: 'RTX 4090' })];
  providers.runpod.offers = [aRunPodOffer({ gpuName: 'RTX 4090' })];
  const reconciler: ReconcilerRoot = {
    config,
    deps: {
      store,
      cluster,
      providers,
      config: reconcileConfig(config),
      rules: defaultRules,
      launch: launchFor(config, store, mode, {
        sha256: { amd64: 'a'.repeat(64), arm64: 'b'.repeat(64) },
        run: 'exec',
      }),
      clock: Date.now,
    },
    nodes: virtualNodes(config),
  };
  const agent = agentRootFor({ config, mode: endpointMode, store, cluster: () => cluster });
  return { config, mode, store, cluster, providers, reconciler, agent };
}

async function passFor(deployment: ReturnType<typeof aDeployment>, provider: ProviderName) {
  const pod = deployment.cluster.addPod({
    uid:
      provider === 'vastai' ? '00000000-0000-4000-8000-000000000001' : '00000000-0000-4000-8000-000000000002',
    namespace: 'ml',
    name: `train-${provider}`,
    nodeName: `anex-${provider}`,
    nodeSelector: { 'node-provider': provider },
    annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
    containers: [{ name: 'main', image: 'ghcr.io/example/trainer:1', command: ['python', 'train.py'] }],
  });
  const body = JSON.stringify({ podUid: pod.uid, namespace: 'ml', name: pod.name, cause: 'bound' });
  const result = await handlePodEvents({ Records: [{ messageId: 'm1', body }] }, deployment.reconciler, {
    deadline: aDeadline(),
  });
  expect(result).toEqual({ batchItemFailures: [] });
  const [created] = deployment.providers[provider].creates;
  if (created === undefined) throw new Error(`no ${provider} instance was created`);
  return { pod, launch: created.launch };
}

function bootstrapEvent(body: unknown) {
  return {
    rawPath: '/v1/bootstrap',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST' }, requestId: 'r-1' },
  };
}

describe('tunnel on: passes launch the agent and the agent endpoint serves it', () => {
  it.each<[ProviderName, string]>([
    ['vastai', 'gw.example.com:51820'],
    ['runpod', 'wss://gw.example.com'],
  ])(
    'a %s pod: agent launch, then a bootstrap with its token gets the tunnel (%s)',
    async (provider, gateway) => {
      const deployment = aDeployment(TUNNEL_ON);
      expect(deployment.mode.on).toBe(true);
      const { pod, launch } = await passFor(deployment, provider);
      expect(launch.command?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(launch.env[AGENT_ENV.url]).toBe(AGENT_URL);
      expect(JSON.stringify(launch)).not.toContain('train.py');
      if (!deployment.agent.on) throw new Error('agent endpoint off');
      const response = await serveAgent(
        bootstrapEvent({ token: launch.env[AGENT_ENV.token], podUid: pod.uid }),
        deployment.agent.deps,
      );
      expect(response.body).toContain('"address"');
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain(gateway);
      expect(response.body).toContain(GATEWAY_KEY);
    },
  );

  it('refuses a token that was not issued (401), whatever the pod', async () => {
    const deployment = aDeployment(TUNNEL_ON);
    const { pod } = await passFor(deployment, 'vastai');
    if (!deployment.agent.on) throw new Error('agent endpoint off');
    const response = await serveAgent(
      bootstrapEvent({ token: 'forged', podUid: pod.uid }),
      deployment.agent.deps,
    );
    expect(response.statusCode).toBe(401);
  });
});

describe('tunnel off: passes launch the pod as is and the agent endpoint answers 503', () => {
  it.each<[string, Record<string, string>, Secret | null, RegExp, boolean]>([
    [
      'nothing configured',
      {},
      null,
      /ANEX_AGENT_ENDPOINT_URL, ANEX_GATEWAY_PUBLIC_KEY, .* are not set/,
      false,
    ],
    // the endpoint itself needs no ANEX_AGENT_ENDPOINT_URL (next test)
    [
      'no agent endpoint',
      { ...TUNNEL_ON, ANEX_AGENT_ENDPOINT_URL: '' },
      PREFIX,
      /ANEX_AGENT_ENDPOINT_URL is not set/,
      true,
    ],
    [
      'runpod enabled without the wstunnel prefix secret',
      TUNNEL_ON,
      null,
      /the wstunnelPathPrefix secret is not set/,
      false,
    ],
    [
      'vastai enabled without the UDP endpoint',
      { ...TUNNEL_ON, ANEX_GATEWAY_UDP_ENDPOINT: '' },
      PREFIX,
      /ANEX_GATEWAY_UDP_ENDPOINT is not set/,
      false,
    ],
  ])('%s', async (_, env, prefix, reason, endpointOn) => {
    const deployment = aDeployment(env, prefix);
    expect(deployment.mode).toEqual({ on: false, reason: expect.stringMatching(reason) });
    const { launch } = await passFor(deployment, 'vastai');
    expect(launch.command).toEqual(['python', 'train.py']);
    expect(launch.env).not.toHaveProperty(AGENT_ENV.token);
    expect(deployment.agent.on).toBe(endpointOn);
    expect(await serveAgent(bootstrapEvent({ token: 't', podUid: 'u' }), undefined)).toMatchObject({
      statusCode: 503,
    });
  });

  it('says so once at start-up, with the reason, on both roots', () => {
    const lines: string[] = [];
    const streams = [process.stdout, process.stderr];
    const writes = streams.map((stream) => stream.write);
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0) as typeof stream.write;
    }
    try {
      aDeployment({}, null);
    } finally {
      streams.forEach((stream, i) => {
        stream.write = writes[i] as typeof stream.write;
      });
    }
    const off = lines.filter((line) => line.includes('tunnel off (not configured: '));
    expect(off).toHaveLength(2);
    expect(off[0]).toContain("instances run the pod's container as is");
    expect(off[1]).toContain('the agent endpoint answers 503');
  });

  it('serves the agent endpoint without its own URL (the function cannot be told it)', () => {
    const deployment = aDeployment({ ...TUNNEL_ON, ANEX_AGENT_ENDPOINT_URL: '' });
    expect(deployment.mode.on).toBe(false);
    expect(deployment.agent.on).toBe(true);
  });

  it('needs only what the enabled providers use: vastai alone needs no wstunnel', () => {
    const env = { ...TUNNEL_ON, ANEX_PROVIDERS: 'vastai', ANEX_GATEWAY_WSS_URL: '' };
    expect(aDeployment(env, null).mode.on).toBe(true);
  });
});

describe('tunnel settings: malformed values stop the start-up, naming variable, value and form', () => {
  it.each([
    ['ANEX_GATEWAY_PUBLIC_KEY', 'nope', 'expected the gateway WireGuard public key (44 base64 characters'],
    ['ANEX_GATEWAY_UDP_ENDPOINT', 'gw', 'expected host:port of the gateway UDP service'],
    ['ANEX_GATEWAY_WSS_URL', 'https://gw.example.com', 'expected wss://host[:port]'],
    ['ANEX_CLUSTER_CIDRS', '10.96.0.0', 'expected a comma list of IPv4 CIDRs'],
    ['ANEX_TUNNEL_MTU', '9000', 'expected a whole number from 1280 to 1500'],
  ])('%s=%j', (variable, value, form) => {
    let error: unknown;
    try {
      aDeployment({ ...TUNNEL_ON, [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).issues).toEqual([
      expect.stringContaining(`${variable}=${JSON.stringify(value)}: ${form}`),
    ]);
  });

  it('is also an error when the tunnel would be off anyway (a typo is not "not configured")', () => {
    expect(() => aDeployment({ ANEX_GATEWAY_PUBLIC_KEY: 'nope' })).toThrow(InvalidInputError);
  });
});
