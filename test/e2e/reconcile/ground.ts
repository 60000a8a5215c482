import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { RegistryClient } from '../../../lib/images/client.ts';
import { registryImageGate } from '../../../lib/images/gate.ts';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { createProvider } from '../../../lib/providers/index.ts';
import type { Provider } from '../../../lib/providers/provider.ts';
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from '../../../lib/reconcile/config.ts';
import { type PassDeps, type PassSummary, runPass } from '../../../lib/reconcile/pass.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { startSimRegistry } from '../../../lib/sim/registry/sim-registry.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { DynamoStore } from '../../../lib/state/dynamo-store.ts';
import { adminKubeConfig, createTable, dynamoClientFor, dynamoInfo } from '../../support/index.ts';
import { type GroundAgents, startAgents } from './agent-ground.ts';

/**
 * The whole reconciler on the real parts: the run's kube-apiserver + scheduler +
 * controller-manager (a virtual node of our own, kept Ready by runHeartbeat), DynamoStore on
 * the run's dynalite, the provider adapter over HTTP against its marketplace simulator.
 */
export interface ReconcileGround {
  provider: ProviderName;
  nodeName: string;
  core: CoreV1Api;
  sim: VastAiSim | RunPodSim;
  adapter: Provider;
  deps: PassDeps;
  /** the ground's time: the wall clock plus {@link skew}; the pass, the store and the simulator share it */
  clock: () => number;
  /** moves the ground's time forward (ban expiry) — never back, so nothing already timed jumps */
  skew(ms: number): void;
  /** the real agent endpoint and the simulated machines' agents (agent-ground.ts) */
  agents: GroundAgents;
  /**
   * Lets the agents of simulated instances now running bootstrap and report 'started'
   * through the real endpoint (unless `agent: 'none'`), then runs a full pass at the ground's time.
   */
  pass(): Promise<PassSummary>;
  stop(): Promise<void>;
}

export interface GroundOptions {
  config?: Partial<ReconcileConfig>;
  /** `simulated` (default): the simulated machines run their containers; `none`: nothing runs, pods wait in ContainerCreating */
  agent?: 'simulated' | 'none';
  /** offers in the simulated market (small markets keep searches cheap) */
  offers?: number;
  /**
   * `registry` (default): image configs are read from the simulated marketplace's registry
   * before renting; `none`: no image check (what the provider then does with a bad image)
   */
  images?: 'registry' | 'none';
}

export async function startGround(
  provider: ProviderName,
  options: GroundOptions = {},
): Promise<ReconcileGround> {
  const config = options.config ?? {};
  let skewMs = 0;
  const clock = () => Date.now() + skewMs;
  const nodeName = `anex-e2e-${provider}-${randomBytes(3).toString('hex')}`;
  const clusterId = `e2e-${randomBytes(3).toString('hex')}`;
  const kubeConfig = adminKubeConfig();
  const cluster = new KubeCluster({ kubeConfig });
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const spec = virtualNodeSpec(provider, nodeName);
  const beat = new AbortController();
  await cluster.ensureNode(spec, { now: Date.now() });
  const heartbeat = runHeartbeat({
    cluster,
    nodes: [spec],
    intervalMs: 3_000,
    until: Date.now() + 3_600_000,
    signal: beat.signal,
    now: Date.now,
  });
  const market = { seed: 7, now: clock, ...(options.offers === undefined ? {} : { offers: options.offers }) };
  const sim = provider === 'vastai' ? new VastAiSim(market) : new RunPodSim(market);
  const url = await sim.start();
  const client = dynamoClientFor(dynamoInfo());
  const store = new DynamoStore({ client, tableName: await createTable(client) });
  const adapter = createProvider(provider, {
    apiKey: 'e2e-key',
    baseUrl: url,
    clusterId,
    timeoutMs: 1_500,
    // Vast's request slots are shared through the table, as the Lambdas share them (ADR 0011).
    paceLedger: store,
  });
  const registry = await startSimRegistry();
  const images = new RegistryClient({ mirror: registry.url });
  const agents = await startAgents({ store, cluster, sim, provider, clock, images });
  const deps: PassDeps = {
    store,
    cluster,
    providers: { [provider]: adapter },
    config: { ...DEFAULT_RECONCILE_CONFIG, clusterId, nodes: { [provider]: nodeName }, ...config },
    rules: defaultRules,
    launch: agents.launch,
    ...(options.images === 'none' ? {} : { images: registryImageGate(images) }),
    clock,
  };
  return {
    provider,
    nodeName,
    core,
    sim,
    adapter,
    deps,
    clock,
    skew(ms) {
      skewMs += Math.max(0, ms);
    },
    agents,
    async pass() {
      if (options.agent !== 'none') await agents.play();
      return runPass(deps, { now: clock(), deadline: clock() + 30_000 });
    },
    async stop() {
      beat.abort();
      await heartbeat;
      await core.deleteNode({ name: nodeName }).catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      });
      await agents.stop();
      await sim.stop();
      await registry.stop();
      client.destroy();
    },
  };
}

/** A fixture pod, pinned to this ground's node (the shared cluster may hold other virtual nodes). */
export function fixturePod(ground: ReconcileGround, file: string, name?: string): V1Pod {
  const pod = parse(readFileSync(new URL(`../../fixtures/pods/${file}`, import.meta.url), 'utf8')) as V1Pod;
  if (name !== undefined) (pod.metadata ?? {}).name = name;
  const spec = pod.spec as NonNullable<V1Pod['spec']>;
  spec.nodeSelector = { ...spec.nodeSelector, 'kubernetes.io/hostname': ground.nodeName };
  return pod;
}

export async function podEvents(core: CoreV1Api, namespace: string, uid: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${uid}` });
  return list.items;
}

/** Live instances of this ground's simulator tagged for its cluster. */
export function liveInstances(ground: ReconcileGround): { id: string; label: string; state: string }[] {
  return ground.sim
    .liveInstances()
    .filter((i) => i.label.startsWith(`anex.${ground.deps.config.clusterId}.`));
}
