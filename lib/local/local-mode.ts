import { KubeConfig } from '@kubernetes/client-node';
import { AnexError } from '../errors.ts';
import { RegistryClient } from '../images/client.ts';
import { registryImageGate, resolveCommand } from '../images/gate.ts';
import { pullCredentials } from '../images/pull-secrets.ts';
import type { VirtualNodeSpec } from '../kube/cluster.ts';
import { KubeCluster } from '../kube/kube-cluster.ts';
import { virtualNodeSpec } from '../kube/virtual-node.ts';
import { MANIFEST_DEFAULTS } from '../manifests/common.ts';
import type { ProviderName } from '../offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from '../reconcile/config.ts';
import { explainSearchCache } from '../reconcile/explain-cache.ts';
import { plainLaunch } from '../reconcile/launch.ts';
import type { PassDeps } from '../reconcile/pass.ts';
import { defaultRules } from '../reconcile/rules-default.ts';
import {
  type LocalAgentEndpoint,
  type LocalTunnelOptions,
  startLocalAgentEndpoint,
} from './agent-endpoint.ts';
import { type LocalReconciler, startLocalReconciler } from './local-reconciler.ts';
import { type LocalStore, type LocalStoreOptions, openLocalStore } from './local-store.ts';
import { outageRepair } from './outage-repair.ts';
import { apiKeyVariables, type ProviderEndpoint, providersFor } from './provider-env.ts';

export interface LocalModeOptions {
  /** a kubeconfig file; undefined: $KUBECONFIG or ~/.kube/config (kubectl's rules) */
  kubeconfig?: string;
  store: LocalStoreOptions;
  providers: Partial<Record<ProviderName, ProviderEndpoint>>;
  passIntervalMs: number;
  /** the reconciler's settings (lib/config's reconcileConfig) @default DEFAULT_RECONCILE_CONFIG */
  reconcile?: ReconcileConfig;
  heartbeatIntervalMs?: number;
  /** serve the agent endpoint and launch through the tunnel; undefined: containers run as is */
  tunnel?: LocalTunnelOptions;
  /**
   * Where image configs are read before renting (lib/images): a mirror holding every image
   * (the simulated marketplace's registry), or undefined for each image's own registry.
   */
  registryMirror?: string;
  /**
   * Where a kubelet API for the nodes listens (`anex run --kubelet-address`, ADR 0023): the
   * nodes advertise it as InternalIP and kubelet port. Unset: the address a gateway reports
   * through the agent endpoint, while fresh; else Hostname only.
   */
  kubeletAddress?: { ip: string; port: number };
  log: (line: string) => void;
}

export interface LocalMode {
  nodes: readonly VirtualNodeSpec[];
  storeWhere: string;
  /** the agent endpoint's local URL, when served */
  agentEndpoint?: string;
  reconciler: LocalReconciler;
  /** graceful: the in-flight pass finishes, then the store is closed */
  stop(options?: { abort?: boolean }): Promise<void>;
}

/** Loads a kubeconfig the way kubectl does, or from `file`; a missing one is a clear error. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (file === undefined) kubeConfig.loadFromDefault();
    else kubeConfig.loadFromFile(file);
  } catch (error) {
    throw new AnexError(`cannot read kubeconfig ${file ?? '(default)'}: ${(error as Error).message}`, {
      kind: 'invalid-input',
      cause: error,
    });
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new AnexError(
      `kubeconfig ${file ?? '$KUBECONFIG or ~/.kube/config'} has no current cluster: pass --kubeconfig <file> or set a context`,
      { kind: 'invalid-input' },
    );
  }
  return kubeConfig;
}

/**
 * `anex run`: the reconciler of the serverless deployment as one process — the same pass
 * (lib/reconcile), against the cluster of the kubeconfig, with state in the embedded store
 * (or a real table) and the providers configured by the caller.
 */
export async function startLocalMode(options: LocalModeOptions): Promise<LocalMode> {
  const config: ReconcileConfig = options.reconcile ?? DEFAULT_RECONCILE_CONFIG;
  // A provider is reconciled when it is enabled (has a node) and has an API key.
  const names = (Object.keys(options.providers) as ProviderName[]).filter(
    (p) => config.nodes[p] !== undefined,
  );
  if (names.length === 0) {
    throw new AnexError(`no provider configured: set ${apiKeyVariables()}, or pass --simulate`, {
      kind: 'invalid-input',
    });
  }
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const nodes = names.flatMap((p) => {
    const name = config.nodes[p];
    const kubelet = options.kubeletAddress;
    const advertised = kubelet === undefined ? {} : { internalIp: kubelet.ip, daemonPort: kubelet.port };
    return name === undefined ? [] : [virtualNodeSpec(p, name, advertised)];
  });
  const store: LocalStore = await openLocalStore(options.store);
  let endpoint: LocalAgentEndpoint | undefined;
  const registry = new RegistryClient(
    options.registryMirror === undefined ? {} : { mirror: options.registryMirror },
  );
  // The reconciler starts after the endpoint: an exit report asks it for the pod's pass once it runs.
  let reconciler: LocalReconciler | undefined;
  try {
    const cluster = new KubeCluster({ kubeConfig });
    endpoint =
      options.tunnel === undefined
        ? undefined
        : await startLocalAgentEndpoint({
            tunnel: options.tunnel,
            store: store.store,
            cluster,
            log: options.log,
            command: async (container, pod) => {
              // A private image is read with the pod's pull logins, as before renting.
              const { auths } = await pullCredentials(cluster, pod);
              const resolved = await resolveCommand(registry, container, { arch: 'amd64', auths });
              return resolved.outcome === 'ok' ? { argv: resolved.argv } : undefined;
            },
            passes: { send: async (message) => reconciler?.trigger(message.podUid) },
          });
    const deps: PassDeps = {
      store: store.store,
      cluster,
      providers: providersFor(
        Object.fromEntries(names.map((p) => [p, options.providers[p]])) as LocalModeOptions['providers'],
        config.clusterId,
        store.store,
      ),
      config,
      rules: defaultRules,
      explainCache: explainSearchCache(),
      launch: endpoint?.launch ?? plainLaunch,
      images: registryImageGate(registry),
      clock: Date.now,
    };
    const started = await startLocalReconciler({
      deps,
      kubeConfig,
      nodes,
      ...(options.kubeletAddress === undefined
        ? { kubeletAddress: () => store.store.getKubeletAddress() }
        : {}),
      passIntervalMs: options.passIntervalMs,
      log: options.log,
      // No mutating webhook here (the API server may not reach this host): ADR 0012.
      outageRepair: outageRepair({
        kubeConfig,
        nodeSelectorKey: MANIFEST_DEFAULTS.nodeSelectorKey,
        nodeSelectorValues: MANIFEST_DEFAULTS.nodeSelectorValues,
      }),
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    });
    reconciler = started;
    const server = endpoint?.server;
    return {
      nodes,
      storeWhere: store.where,
      ...(server === undefined ? {} : { agentEndpoint: server.url }),
      reconciler: started,
      async stop(stopOptions) {
        await started.stop(stopOptions);
        await server?.close();
        await store.close();
      },
    };
  } catch (error) {
    await endpoint?.server.close();
    await store.close();
    throw error;
  }
}
