import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  apiserverArgs,
  type ControlPlanePorts,
  controllerManagerArgs,
  etcdArgs,
  NODE_MONITOR,
  schedulerArgs,
} from './args.ts';
import type { ControlPlaneBinaries } from './binaries.ts';
import { type ControlPlanePki, generatePki } from './certs.ts';
import { type ProbeTls, probe } from './http-probe.ts';
import { adminKubeconfig, writeKubeconfig } from './kubeconfig.ts';
import { freePorts } from './ports.ts';
import { createProcessScope, type ManagedProcess, type ProcessScope, waitUntil } from './processes.ts';

/** What tests need to reach a running control plane; plain data (crosses vitest's `provide`). */
export interface ControlPlaneInfo {
  /** https://127.0.0.1:<port> */
  server: string;
  /** admin kubeconfig file (mode 0600), valid while the control plane runs */
  kubeconfigPath: string;
  /** the same kubeconfig as YAML, credentials inline: never log it */
  kubeconfigYaml: string;
  versions: { kubernetes: string; etcd: string };
  /** the controller-manager's node-lifecycle timing (see NODE_MONITOR) */
  nodeMonitor: { periodSeconds: number; gracePeriodSeconds: number };
  /** wall-clock time from start to all components ready */
  startupMs: number;
}

export interface ControlPlane {
  readonly info: ControlPlaneInfo;
  /** Stops controller-manager, scheduler, apiserver, etcd (in that order); removes the temp dir. */
  stop(): Promise<void>;
}

export interface StartControlPlaneOptions {
  binaries: ControlPlaneBinaries;
  /** start kube-scheduler @default true */
  scheduler?: boolean;
  /** start kube-controller-manager @default true */
  controllerManager?: boolean;
  /** kill the processes at once on SIGINT/SIGTERM (see ProcessScopeOptions) @default true */
  killOnSignal?: boolean;
  /** per-component readiness timeout @default 120_000 (a 2-core machine is slow) */
  startTimeoutMs?: number;
}

/**
 * Starts etcd + kube-apiserver (+ scheduler + controller-manager) on free loopback ports,
 * envtest style, and waits until /readyz answers and the `default` namespace exists.
 * On any failure everything started so far is stopped and the error names the component.
 */
export async function startControlPlane(options: StartControlPlaneOptions): Promise<ControlPlane> {
  const startedAt = performance.now();
  const scope = createProcessScope('anex-control-plane', {
    ...(options.killOnSignal === undefined ? {} : { killOnSignal: options.killOnSignal }),
  });
  try {
    const info = await startIn(scope, options);
    return {
      info: { ...info, startupMs: Math.round(performance.now() - startedAt) },
      stop: () => scope.close(),
    };
  } catch (error) {
    await scope.close();
    throw error;
  }
}

async function startIn(
  scope: ProcessScope,
  options: StartControlPlaneOptions,
): Promise<Omit<ControlPlaneInfo, 'startupMs'>> {
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const [etcdClient, etcdPeer, apiserver, scheduler, controllerManager] = await freePorts(5);
  const ports = { etcdClient, etcdPeer, apiserver, scheduler, controllerManager } as ControlPlanePorts;
  const [pki, etcdVersion] = await Promise.all([
    generatePki(scope.dir),
    startEtcd(scope, options.binaries.etcd, ports, timeoutMs),
  ]);
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const tls = await adminTls(pki);
  const kubernetes = await startApiserver({
    scope,
    binary: options.binaries.kubeApiserver,
    pki,
    ports,
    tls,
    timeoutMs,
  });
  const kubeconfigPath = join(scope.dir, 'admin.kubeconfig');
  const kubeconfigYaml = await writeKubeconfig(kubeconfigPath, await adminKubeconfig(server, pki));
  const components: Promise<void>[] = [];
  if (options.scheduler ?? true) {
    const process = scope.spawn({
      name: 'kube-scheduler',
      command: options.binaries.kubeScheduler,
      args: schedulerArgs(kubeconfigPath, ports),
    });
    components.push(waitHealthy(process, `https://127.0.0.1:${ports.scheduler}/readyz`, timeoutMs));
  }
  if (options.controllerManager ?? true) {
    const args = controllerManagerArgs(kubeconfigPath, pki, ports);
    const process = scope.spawn({
      name: 'kube-controller-manager',
      command: options.binaries.kubeControllerManager,
      args,
    });
    components.push(waitHealthy(process, `https://127.0.0.1:${ports.controllerManager}/healthz`, timeoutMs));
  }
  await Promise.all(components);
  return {
    server,
    kubeconfigPath,
    kubeconfigYaml,
    versions: { kubernetes, etcd: etcdVersion },
    nodeMonitor: { ...NODE_MONITOR },
  };
}

/** Starts etcd and returns its server version once /health is true. */
async function startEtcd(
  scope: ProcessScope,
  binary: string,
  ports: ControlPlanePorts,
  timeoutMs: number,
): Promise<string> {
  const process = scope.spawn({
    name: 'etcd',
    command: binary,
    args: etcdArgs(join(scope.dir, 'etcd-data'), ports),
  });
  const base = `http://127.0.0.1:${ports.etcdClient}`;
  await waitUntil(async () => (await probe(`${base}/health`)).body.includes('"health":"true"'), {
    what: `etcd ${base}/health`,
    timeoutMs,
    process,
  });
  const version = JSON.parse((await probe(`${base}/version`)).body) as { etcdserver?: string };
  return version.etcdserver ?? 'unknown';
}

interface ApiserverStart {
  scope: ProcessScope;
  binary: string;
  pki: ControlPlanePki;
  ports: ControlPlanePorts;
  tls: ProbeTls;
  timeoutMs: number;
}

/** Starts kube-apiserver; ready = /readyz 200 and the `default` namespace readable as admin. */
async function startApiserver(start: ApiserverStart): Promise<string> {
  const { scope, pki, ports, tls, timeoutMs } = start;
  const process = scope.spawn({
    name: 'kube-apiserver',
    command: start.binary,
    args: apiserverArgs(scope.dir, pki, ports),
  });
  const base = `https://127.0.0.1:${ports.apiserver}`;
  await waitUntil(async () => (await probe(`${base}/readyz`, tls)).status === 200, {
    what: `kube-apiserver ${base}/readyz`,
    timeoutMs,
    process,
  });
  await waitUntil(async () => (await probe(`${base}/api/v1/namespaces/default`, tls)).status === 200, {
    what: 'the `default` namespace',
    timeoutMs,
    process,
  });
  const version = JSON.parse((await probe(`${base}/version`, tls)).body) as { gitVersion?: string };
  return version.gitVersion ?? 'unknown';
}

/** Scheduler and controller-manager serve a self-signed certificate; health paths are anonymous. */
function waitHealthy(process: ManagedProcess, url: string, timeoutMs: number): Promise<void> {
  return waitUntil(async () => (await probe(url, { insecure: true })).status === 200, {
    what: `${process.name} ${url}`,
    timeoutMs,
    process,
  });
}

async function adminTls(pki: ControlPlanePki): Promise<ProbeTls> {
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert),
    readFile(pki.adminCert),
    readFile(pki.adminKey),
  ]);
  return { ca, cert, key };
}
