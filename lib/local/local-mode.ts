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
import { newSecret, sha256Hex } from '../tunnel/tokens.ts';
import {
  type LocalAgentEndpoint,
  type LocalTunnelOptions,
  startLocalAgentEndpoint,
} from './agent-endpoint.ts';
import { anexKubeletBinary } from './kubelet-binary.ts';
import {
  freePortOn,
  type KubeletAddress,
  loopbackUrl,
  processLauncher,
  type ServedKubelet,
  startKubeletProcess,
} from './kubelet-process.ts';
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
  /**
   * Serve the kubelet API for the nodes as a child process (anex-kubelet, ADR 0023 "Local
   * mode") on `listen` (port 0: a free one); the nodes advertise that address. Needs `tunnel`:
   * anex-kubelet reads pod addresses and saved log tails from the agent endpoint. `kubeconfig`
   * is the one file it reads (kubeconfigFile). `optional`: a failed start is a warning, not
   * a failure (the demo).
   */
  kubelet?: { listen: KubeletAddress; kubeconfig: string; optional?: boolean };
  log: (line: string) => void;
}

export interface LocalMode {
  nodes: readonly VirtualNodeSpec[];
  storeWhere: string;
  /** the agent endpoint's local URL, when served */
  agentEndpoint?: string;
  /** the kubelet API this process serves (LocalModeOptions `kubelet`), when it started */
  kubelet?: ServedKubelet;
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
  if (options.kubelet !== undefined && options.tunnel === undefined) {
    throw new AnexError(
      'serving the kubelet API needs the agent endpoint (--simulate or --agent-endpoint-url): anex-kubelet reads pod addresses and saved log tails from it',
      { kind: 'invalid-input' },
    );
  }
  // The credential anex-kubelet presents to the endpoint: made here, never logged, gone at exit.
  const kubeletToken = options.kubelet === undefined ? undefined : newSecret();
  const tunnel =
    options.tunnel === undefined || kubeletToken === undefined
      ? options.tunnel
      : { ...options.tunnel, gatewayTokenHash: sha256Hex(kubeletToken) };
  const store: LocalStore = await openLocalStore(options.store);
  let endpoint: LocalAgentEndpoint | undefined;
  const registry = new RegistryClient(
    options.registryMirror === undefined ? {} : { mirror: options.registryMirror },
  );
  // The reconciler starts after the endpoint: an exit report asks it for the pod's pass once it runs.
  let reconciler: LocalReconciler | undefined;
  let kubelet: ServedKubelet | undefined;
  try {
    const cluster = new KubeCluster({ kubeConfig });
    endpoint =
      tunnel === undefined
        ? undefined
        : await startLocalAgentEndpoint({
            tunnel,
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
    if (options.kubelet !== undefined && endpoint !== undefined && kubeletToken !== undefined) {
      kubelet = await serveKubelet(
        options.kubelet,
        loopbackUrl(endpoint.server.url),
        kubeletToken,
        options.log,
      );
    }
    const advertised = options.kubeletAddress ?? kubelet?.address;
    const nodes = nodeSpecs(names, config, advertised);
    const started = await startLocalReconciler({
      deps,
      kubeConfig,
      nodes,
      ...(advertised === undefined ? { kubeletAddress: () => store.store.getKubeletAddress() } : {}),
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
      ...(kubelet === undefined ? {} : { kubelet }),
      reconciler: started,
      async stop(stopOptions) {
        await kubelet?.stop();
        await started.stop(stopOptions);
        await server?.close();
        await store.close();
      },
    };
  } catch (error) {
    await kubelet?.stop();
    await endpoint?.server.close();
    await store.close();
    throw error;
  }
}

function nodeSpecs(
  names: readonly ProviderName[],
  config: ReconcileConfig,
  kubelet: { ip: string; port: number } | undefined,
): VirtualNodeSpec[] {
  const advertised = kubelet === undefined ? {} : { internalIp: kubelet.ip, daemonPort: kubelet.port };
  return names.flatMap((p) => {
    const name = config.nodes[p];
    return name === undefined ? [] : [virtualNodeSpec(p, name, advertised)];
  });
}

/**
 * Builds (or finds cached) and starts anex-kubelet against the endpoint at `agentUrl`.
 * @returns undefined when an `optional` kubelet failed to start (said in the log)
 */
async function serveKubelet(
  kubelet: NonNullable<LocalModeOptions['kubelet']>,
  agentUrl: string,
  token: string,
  log: (line: string) => void,
): Promise<ServedKubelet | undefined> {
  try {
    const binary = anexKubeletBinary();
    const port = kubelet.listen.port === 0 ? await freePortOn(kubelet.listen.ip) : kubelet.listen.port;
    const served = await startKubeletProcess({
      launcher: processLauncher(binary),
      kubeconfig: kubelet.kubeconfig,
      agentUrl,
      token,
      address: { ip: kubelet.listen.ip, port },
      log,
    });
    log(
      `kubelet API (anex-kubelet) on https://${served.address.ip}:${served.address.port}, advertised by the nodes for kubectl logs/exec; its log: ${served.logPath}`,
    );
    return served;
  } catch (error) {
    if (kubelet.optional !== true) {
      if (!(error instanceof AnexError)) throw error;
      throw new AnexError(`${error.message}\n(--no-kubelet runs without the kubelet API)`, {
        kind: error.kind,
        cause: error,
      });
    }
    log(
      `warning: the kubelet API did not start, so kubectl logs/exec on anex pods fail: ${(error as Error).message}`,
    );
    return undefined;
  }
}
