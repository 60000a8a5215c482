import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { PROVIDER_ENV } from '../config/secrets.ts';
import { AnexError, InvalidInputError } from '../errors.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../reconcile/config.ts';
import { loopbackAgentOptions } from './agent-endpoint.ts';
import { ensureBinaries } from './control-plane/binaries.ts';
import { type ControlPlane, startControlPlane } from './control-plane/control-plane.ts';
import { type LocalMode, loadKubeConfig, startLocalMode } from './local-mode.ts';
import { followPod, type ProgressOutcome } from './pod-progress.ts';
import {
  type ProviderEndpoint,
  providerEndpointsFromEnv,
  providersFor,
  REGISTRY_MIRROR_ENV,
  registryMirrorFromEnv,
} from './provider-env.ts';
import { type SimulatedMarket, startSimulatedMarket } from './simulated-market.ts';

/** The demo's pod addresses (never routed: the demo has no gateway, so pods run untunnelled). */
const DEMO_VPN_RANGE = '10.99.0.0/16';

export const EXAMPLE_POD = fileURLToPath(new URL('../../examples/seed-pod.yaml', import.meta.url));

export interface DemoOptions {
  /** a pod manifest @default examples/seed-pod.yaml */
  podFile?: string;
  /** namespace for the pod when the manifest has none @default "default" */
  namespace?: string;
  /** leave everything up after Running until `stop` aborts */
  keep?: boolean;
  /** an existing cluster instead of a fresh local control plane (tests) */
  kubeconfig?: string;
  /** Ctrl-C: stop waiting and clean up */
  stop: AbortSignal;
  /** how long to wait for Running @default 180_000 */
  timeoutMs?: number;
  /** simulated boot time @default 6_000 */
  bootMs?: number;
  /** what the user reads */
  say: (line: string) => void;
  /** reconciler logs @default say */
  log?: (line: string) => void;
  /**
   * Where VAST_API_URL / RUNPOD_API_URL (with their keys) point the demo at an external
   * marketplace, e.g. `anex sim` in another process @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
}

export type DemoOutcome = 'running' | 'failed' | 'timeout' | 'interrupted';

export interface DemoResult {
  outcome: DemoOutcome;
  /** simulated instances still rented after the clean-up (0 expected) */
  leaked: number;
}

interface Parts {
  controlPlane?: ControlPlane;
  market?: SimulatedMarket;
  /** an external marketplace from the environment, used instead of `market` */
  external?: Partial<Record<ProviderName, ProviderEndpoint>>;
  /** the external marketplace's image registry, when it has one */
  mirror?: string;
  mode?: LocalMode;
  pod?: { namespace: string; name: string };
  podUid?: string;
  core?: CoreV1Api;
}

/**
 * `anex demo`: a local control plane, the simulated marketplace, the embedded store and the
 * reconciler, then the example pod from Pending through Provisioning to Running. Everything it
 * started is stopped on the way out — also on Ctrl-C — and the simulated marketplace is checked
 * for instances left rented.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const parts: Parts = {};
  let outcome: DemoOutcome = 'interrupted';
  try {
    const manifest = await readPodManifest(options.podFile ?? EXAMPLE_POD, options.namespace ?? 'default');
    const kubeConfig = await clusterFor(options, parts);
    if (options.stop.aborted) return await cleanUp(parts, options, outcome);
    const providers = await marketplaceFor(options, parts);
    const registryMirror = parts.market?.registryUrl ?? parts.mirror;
    const kubeconfig = options.kubeconfig ?? kubeconfigPath(parts);
    parts.mode = await startLocalMode({
      kubeconfig,
      store: { inMemory: true },
      providers,
      passIntervalMs: 2_000,
      // Only the demo pod's namespace may rent (ADR 0019), enabled here explicitly.
      reconcile: { ...DEFAULT_RECONCILE_CONFIG, spend: { rentNamespaces: [manifest.namespace] } },
      ...(registryMirror === undefined ? {} : { registryMirror }),
      // The machines run on this host: the stub fetches the agent from loopback; no gateway.
      tunnel: await loopbackAgentOptions(DEMO_VPN_RANGE),
      // The kubelet API for `kubectl logs`: the control plane is on this host, so loopback
      // reaches it (no root: a free port). Without it the demo still runs; the log says why.
      kubelet: { listen: { ip: '127.0.0.1', port: 0 }, kubeconfig: resolve(kubeconfig), optional: true },
      log: options.log ?? options.say,
    });
    options.say(
      `[3/4] reconciler running: embedded store (dynalite, in memory), virtual nodes ${parts.mode.nodes.map((n) => n.name).join(', ')}; namespace ${manifest.namespace} enabled for renting`,
    );
    const kubelet = parts.mode.kubelet?.address;
    options.say(
      kubelet === undefined
        ? '      no kubelet API: kubectl logs and exec on the pod fail (--verbose says why)'
        : `      kubelet API (anex-kubelet) on ${kubelet.ip}:${kubelet.port}: kubectl logs reaches the pod's saved log tail`,
    );
    parts.core = kubeConfig.makeApiClient(CoreV1Api);
    const created = await parts.core.createNamespacedPod({
      namespace: manifest.namespace,
      body: manifest.body,
    });
    parts.pod = { namespace: manifest.namespace, name: created.metadata?.name ?? manifest.name };
    if (created.metadata?.uid !== undefined) parts.podUid = created.metadata.uid;
    options.say(
      `[4/4] applied ${options.podFile ?? 'examples/seed-pod.yaml'} as pod ${parts.pod.namespace}/${parts.pod.name}:`,
    );
    const progress = await followPod({
      core: parts.core,
      ...parts.pod,
      onLine: (line) => options.say(`  ${line.at.toFixed(1).padStart(5)}s  ${line.text}`),
      done: (pod) => ['Running', 'Succeeded', 'Failed'].includes(pod.status?.phase ?? ''),
      timeoutMs: options.timeoutMs ?? 180_000,
      signal: options.stop,
    });
    outcome = judge(progress);
    options.say(verdict(outcome, progress, parts.pod));
    for (const line of machineOutput(parts)) options.say(`      ${line}`);
    if (outcome === 'running' && options.keep === true) await keepUp(options, parts);
    return await cleanUp(parts, options, outcome);
  } catch (error) {
    const result = await cleanUp(parts, options, outcome).catch(() => undefined);
    // Ctrl-C during start-up also stops what was starting (e.g. the Go build): not a failure.
    if (options.stop.aborted && result !== undefined) return result;
    throw error;
  }
}

async function clusterFor(options: DemoOptions, parts: Parts): Promise<KubeConfig> {
  if (options.kubeconfig !== undefined) {
    options.say('[1/4] using the cluster of the given kubeconfig');
    return loadKubeConfig(options.kubeconfig);
  }
  options.say('[1/4] local Kubernetes control plane (etcd, kube-apiserver, scheduler, controller-manager)');
  options.say(
    '      binaries: reusing ~/.cache/anex/control-plane, or building them from source (first run: 10-30 min)',
  );
  const binaries = await ensureBinaries();
  parts.controlPlane = await startControlPlane({ binaries, killOnSignal: false });
  const info = parts.controlPlane.info;
  options.say(
    `      Kubernetes ${info.versions.kubernetes} ready in ${(info.startupMs / 1000).toFixed(1)} s`,
  );
  return loadKubeConfig(info.kubeconfigPath);
}

/**
 * The built-in simulated marketplace, or the one VAST_API_URL / RUNPOD_API_URL name (each
 * with its key). A key without a URL would be the real service: the demo never rents for
 * real, so such a provider is left out, and said so.
 */
async function marketplaceFor(
  options: DemoOptions,
  parts: Parts,
): Promise<Partial<Record<ProviderName, ProviderEndpoint>>> {
  const fromEnv = providerEndpointsFromEnv(options.env ?? process.env);
  const external = Object.fromEntries(
    Object.entries(fromEnv).filter(([, endpoint]) => endpoint.baseUrl !== undefined),
  ) as Partial<Record<ProviderName, ProviderEndpoint>>;
  const realOnly = PROVIDERS.filter((p) => fromEnv[p] !== undefined && external[p] === undefined);
  if (realOnly.length > 0) {
    options.say(
      `      ignoring ${realOnly.map((p) => PROVIDER_ENV[p].apiKey).join(', ')}: without ${realOnly.map((p) => PROVIDER_ENV[p].url).join(', ')} that is the real marketplace, and the demo never rents for real`,
    );
  }
  if (Object.keys(external).length > 0) {
    parts.external = external;
    const where = Object.entries(external).map(([name, e]) => `${name} at ${e.baseUrl}`);
    options.say(`[2/4] external marketplace from the environment: ${where.join(', ')}`);
    const mirror = registryMirrorFromEnv(options.env ?? process.env) ?? (await simRegistry(external));
    if (mirror !== undefined) parts.mirror = mirror;
    options.say(
      mirror === undefined
        ? `      no image registry mirror (${REGISTRY_MIRROR_ENV}): image configs are read from each image's own registry`
        : `      images from ${mirror}`,
    );
    return external;
  }
  parts.market = await startSimulatedMarket({ bootMs: options.bootMs ?? 6_000 });
  options.say(`[2/4] simulated marketplace (Vast.AI + RunPod APIs and their image registry) on 127.0.0.1`);
  return parts.market.endpoints;
}

/**
 * What the built-in market's machines printed (the stub, the agent, the pod's command), so
 * the demo shows that Running came from a process that really started. Secrets never reach
 * these logs: the agent prints none.
 */
function machineOutput(parts: Parts): string[] {
  const machines = [...(parts.market?.runner.machines() ?? new Map()).entries()];
  return machines.flatMap(([key, machine]) => [
    `machine ${key} says:`,
    ...machine
      .log()
      .trim()
      .split('\n')
      .slice(-8)
      .map((line: string) => `  ${line}`),
  ]);
}

/**
 * The image registry of a simulated marketplace (`anex sim` answers GET /__sim/info with it);
 * undefined when the marketplace is not a simulator. The demo only ever talks to simulators.
 */
async function simRegistry(
  endpoints: Partial<Record<ProviderName, ProviderEndpoint>>,
): Promise<string | undefined> {
  for (const endpoint of Object.values(endpoints)) {
    try {
      const response = await fetch(`${endpoint.baseUrl}/__sim/info`, { signal: AbortSignal.timeout(5_000) });
      const info = (await response.json()) as { registry?: unknown };
      if (response.ok && typeof info.registry === 'string') return info.registry;
    } catch {
      // not a simulator, or not answering: no mirror
    }
  }
  return undefined;
}

function kubeconfigPath(parts: Parts): string {
  const path = parts.controlPlane?.info.kubeconfigPath;
  if (path === undefined) throw new AnexError('demo: no control plane started', { kind: 'internal' });
  return path;
}

async function readPodManifest(file: string, defaultNamespace: string) {
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new InvalidInputError([`--pod ${file}: cannot read the file (${error.message})`]);
  });
  const body = parse(text) as V1Pod | null;
  if (body === null || typeof body !== 'object' || body.kind !== 'Pod' || !body.metadata?.name) {
    throw new InvalidInputError([
      `--pod ${file}: expected one Pod manifest with kind: Pod and metadata.name`,
    ]);
  }
  const namespace = body.metadata.namespace ?? defaultNamespace;
  return {
    body: { ...body, metadata: { ...body.metadata, namespace } },
    namespace,
    name: body.metadata.name,
  };
}

function judge(progress: ProgressOutcome): DemoOutcome {
  if (progress.kind === 'aborted') return 'interrupted';
  if (progress.kind === 'timeout') return 'timeout';
  if (progress.kind === 'gone') return 'failed';
  return progress.pod?.status?.phase === 'Running' ? 'running' : 'failed';
}

function verdict(
  outcome: DemoOutcome,
  progress: ProgressOutcome,
  pod: { namespace: string; name: string },
): string {
  const ref = `${pod.namespace}/${pod.name}`;
  switch (outcome) {
    case 'running':
      return `✔ ${ref} is Running on ${progress.pod?.spec?.nodeName ?? 'its virtual node'} (a simulated machine)`;
    case 'interrupted':
      return 'interrupted: cleaning up';
    case 'timeout':
      return `✘ ${ref} did not reach Running in time; run \`anex explain ${ref}\` against the cluster to see why`;
    default:
      return `✘ ${ref} ended ${progress.pod?.status?.phase ?? 'deleted'}: ${progress.pod?.status?.message ?? ''}`;
  }
}

async function keepUp(options: DemoOptions, parts: Parts): Promise<void> {
  const path = parts.controlPlane?.info.kubeconfigPath ?? options.kubeconfig;
  options.say('\nEverything stays up until Ctrl-C. Try:');
  options.say(`  export KUBECONFIG=${path}`);
  const pod = parts.pod?.name ?? '';
  options.say(`  kubectl get nodes; kubectl describe pod ${pod}`);
  if (parts.mode?.kubelet !== undefined) {
    // The demo has no gateway, so its pod runs without the tunnel (ADR 0023 §6).
    options.say(
      `  kubectl logs ${pod}      # the log tail saved when a run ends; while it runs: "runs without a tunnel"`,
    );
    options.say(
      `  kubectl exec ${pod} -- ls   # answers that the pod runs without a tunnel (the demo has no gateway)`,
    );
  }
  await new Promise<void>((resolve) => {
    if (options.stop.aborted) resolve();
    options.stop.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Deletes the pod and lets the reconciler destroy its instance (the real deletion path), then
 * stops the reconciler, the marketplace and the control plane, newest first.
 */
async function cleanUp(parts: Parts, options: DemoOptions, outcome: DemoOutcome): Promise<DemoResult> {
  if (parts.pod !== undefined && parts.core !== undefined) {
    options.say('cleaning up: deleting the pod (the reconciler destroys its machine)');
    await parts.core.deleteNamespacedPod(parts.pod).catch(() => undefined);
    await waitReleased(parts, parts.pod);
  }
  await parts.mode?.stop();
  const leaked = await leakedInstances(parts);
  await parts.market?.stop();
  await parts.controlPlane?.stop();
  options.say(
    leaked === 0
      ? 'cleaned up: no simulated machine left rented, no process or temp dir left'
      : `✘ ${leaked} simulated machine(s) were still rented at exit`,
  );
  return { outcome, leaked };
}

/**
 * Machines still rented for the demo's pod: the built-in market's own list, or on an
 * external marketplace the instances tagged with the pod's UID (others may share it).
 */
async function leakedInstances(parts: Parts): Promise<number> {
  if (parts.market !== undefined) return Object.values(parts.market.liveInstances()).flat().length;
  const podUid = parts.podUid;
  if (parts.external === undefined || podUid === undefined) return 0;
  const providers = providersFor(parts.external, DEFAULT_RECONCILE_CONFIG.clusterId);
  const lists = await Promise.all(
    Object.values(providers).map((provider) => provider.listTagged({ deadline: Date.now() + 30_000 })),
  );
  return lists.flat().filter((instance) => instance.tag?.podUid === podUid).length;
}

async function waitReleased(parts: Parts, pod: { namespace: string; name: string }): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const gone = await parts.core?.readNamespacedPod(pod).then(
      () => false,
      (error: { code?: number }) => error.code === 404,
    );
    const live = await leakedInstances(parts).catch(() => 1);
    if (gone === true && live === 0) return;
    parts.mode?.reconciler.trigger();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
