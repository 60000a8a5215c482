import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { runHeartbeat } from '../../../lib/kube/heartbeat.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import { createProvider } from '../../../lib/providers/index.ts';
import type { Provider } from '../../../lib/providers/provider.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from '../../../lib/reconcile/config.ts';
import { type PassDeps, type PassSummary, runPass } from '../../../lib/reconcile/pass.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { DynamoStore } from '../../../lib/state/dynamo-store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { adminKubeConfig, createTable, dynamoClientFor, dynamoInfo } from '../../support/index.ts';

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
  pass(): Promise<PassSummary>;
  stop(): Promise<void>;
}

export async function startGround(
  provider: ProviderName,
  config: Partial<ReconcileConfig> = {},
): Promise<ReconcileGround> {
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
  const sim = provider === 'vastai' ? new VastAiSim({ seed: 7 }) : new RunPodSim({ seed: 7 });
  const url = await sim.start();
  const client = dynamoClientFor(dynamoInfo());
  const store = new DynamoStore({ client, tableName: await createTable(client) });
  const adapter = createProvider(provider, { apiKey: 'e2e-key', baseUrl: url, clusterId, timeoutMs: 1_500 });
  const deps: PassDeps = {
    store,
    cluster,
    providers: { [provider]: adapter },
    config: { ...DEFAULT_RECONCILE_CONFIG, clusterId, nodes: { [provider]: nodeName }, ...config },
    rules: defaultRules,
    launch: agentLaunch({
      store,
      range: parseVpnRange('10.98.0.0/24'),
      endpointUrl: 'https://agent.anex.test',
      now: Date.now,
    }),
    clock: Date.now,
  };
  return {
    provider,
    nodeName,
    core,
    sim,
    adapter,
    deps,
    pass: () => runPass(deps, { now: Date.now(), deadline: Date.now() + 30_000 }),
    async stop() {
      beat.abort();
      await heartbeat;
      await core.deleteNode({ name: nodeName }).catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      });
      await sim.stop();
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
