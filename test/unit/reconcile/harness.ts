import { MemoryCluster, type PodInput } from '../../../lib/kube/memory-cluster.ts';
import type { Offer, ProviderName } from '../../../lib/offers/offer.ts';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from '../../../lib/reconcile/config.ts';
import { plainLaunch } from '../../../lib/reconcile/launch.ts';
import { type PassDeps, type PassSummary, runPass } from '../../../lib/reconcile/pass.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';

/** A deterministic pod UID (the tag format wants a UUID). */
export function uid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export const T0 = Date.parse('2026-03-01T12:00:00Z');
export const MINUTE = 60_000;

let offerSeq = 1;

/** A Vast-like offer matching {@link gpuPod}'s annotations unless told otherwise. */
export function anOffer(overrides: Partial<Offer> = {}): Offer {
  const n = offerSeq++;
  return {
    provider: 'vastai',
    offerId: String(1000 + n),
    machineId: `m${n}`,
    gpuName: 'RTX 4090',
    gpuCount: 1,
    vramMb: 24564,
    vramTotalMb: 24564,
    pricePerHour: 0.4 + n / 1000,
    verified: true,
    region: 'europe',
    countryCode: 'DE',
    location: 'Germany, DE',
    ...overrides,
  };
}

/** A RunPod-like offer (no machine id until rented). */
export function aRunPodOffer(overrides: Partial<Offer> = {}): Offer {
  const { machineId: _none, ...offer } = anOffer({
    provider: 'runpod',
    cloudType: 'SECURE',
    dataCenterId: 'EU-RO-1',
  });
  return { ...offer, offerId: `NVIDIA GeForce RTX 4090|SECURE|EU-RO-1|1`, ...overrides };
}

/** A pod bound to the provider's virtual node, asking for an RTX 4090. */
export function gpuPod(n: number, overrides: PodInput & { provider?: ProviderName } = {}): PodInput {
  const provider = overrides.provider ?? 'vastai';
  const { provider: _p, ...rest } = overrides;
  return {
    uid: uid(n),
    name: `train-${n}`,
    nodeName: `anex-${provider}`,
    nodeSelector: { 'node-provider': provider },
    annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
    containers: [{ name: 'main', image: 'ghcr.io/example/trainer:1', command: ['python', 'train.py'] }],
    ...rest,
  };
}

export interface Harness {
  store: MemoryStore;
  cluster: MemoryCluster;
  vast: FakeProvider;
  runpod: FakeProvider;
  config: ReconcileConfig;
  deps: PassDeps;
  /** current test time; `pass()` runs at it */
  now: number;
  /** advances time (and the fakes' time) */
  tick(ms: number): void;
  pass(options?: { podUid?: string; concurrency?: number }): Promise<PassSummary>;
}

export function harness(config: Partial<ReconcileConfig> = {}): Harness {
  const store = new MemoryStore();
  const cluster = new MemoryCluster();
  const vast = new FakeProvider('vastai');
  const runpod = new FakeProvider('runpod');
  const fullConfig: ReconcileConfig = { ...DEFAULT_RECONCILE_CONFIG, clusterId: 'test', ...config };
  const h: Harness = {
    store,
    cluster,
    vast,
    runpod,
    config: fullConfig,
    now: T0,
    deps: undefined as unknown as PassDeps,
    tick(ms) {
      h.now += ms;
      vast.now = h.now;
      runpod.now = h.now;
    },
    pass(options = {}) {
      return runPass(h.deps, { now: h.now, deadline: h.now + 10 * MINUTE, ...options });
    },
  };
  vast.now = T0;
  runpod.now = T0;
  h.deps = {
    store,
    cluster,
    providers: { vastai: vast, runpod },
    config: fullConfig,
    rules: defaultRules,
    launch: plainLaunch,
    clock: () => h.now,
  };
  return h;
}

/** A harness whose launches run the anex agent (env from Secrets, graceful stops, restarts in place). */
export function agentHarness(config: Partial<ReconcileConfig> = {}): Harness {
  const h = harness(config);
  h.deps.launch = agentLaunch({
    store: h.store,
    range: parseVpnRange('10.77.0.0/24'),
    endpointUrl: 'https://agent.example.test',
    now: () => h.now,
    agent: { sha256: { amd64: 'a'.repeat(64), arm64: 'b'.repeat(64) }, run: 'exec' },
  });
  return h;
}

/** The agent endpoint's backend over the harness's store and cluster, on its clock. */
export function agentBackend(h: Harness): ReconcilerAgentBackend {
  return new ReconcilerAgentBackend({
    store: h.store,
    cluster: h.cluster,
    transport: { vastai: 'udp', runpod: 'wstunnel' },
    clock: () => h.now,
  });
}
