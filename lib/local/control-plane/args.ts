import type { ControlPlanePki } from './certs.ts';

/** Loopback ports of one control plane. */
export interface ControlPlanePorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  scheduler: number;
  controllerManager: number;
}

/**
 * Node-lifecycle timing of the test controller-manager. Shortened from the 1.33 defaults
 * (--node-monitor-period=5s, --node-monitor-grace-period=50s) so "node stopped renewing its
 * Lease → Ready=Unknown" is observable within a test; a node must renew its Lease (or Ready
 * heartbeat) more often than the grace period to stay Ready.
 */
export const NODE_MONITOR = { periodSeconds: 2, gracePeriodSeconds: 20 } as const;

/** Service network of the test cluster (the apiserver and controller-manager must agree). */
const SERVICE_CIDR = '10.0.0.0/24';

export function etcdArgs(dataDir: string, ports: ControlPlanePorts): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=anex-test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=anex-test=${peer}`,
    // Tests only: no fsync is fast and acceptable for data thrown away after the run.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

/** envtest's kube-apiserver flags plus --advertise-address (hosts without a default route). */
export function apiserverArgs(dir: string, pki: ControlPlanePki, ports: ControlPlanePorts): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--secure-port=${ports.apiserver}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // The `kubernetes` Endpoints cannot hold a loopback address; skip that reconciler.
    '--endpoint-reconciler-type=none',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=true',
    '--authorization-mode=RBAC',
    // As envtest: pods need no `default` ServiceAccount, so a test can create a pod right
    // after its namespace without racing the serviceaccount controller.
    '--disable-admission-plugins=ServiceAccount',
    `--client-ca-file=${pki.caCert}`,
    // How the API server authenticates to a node's kubelet API for logs, exec and port-forward
    // (anex-kubelet, ADR 0023): the admin client certificate (system:masters), as kubeadm gives
    // the API server its apiserver-kubelet-client certificate in a group allowed nodes/proxy.
    `--kubelet-client-certificate=${pki.adminCert}`,
    `--kubelet-client-key=${pki.adminKey}`,
    `--service-account-issuer=https://127.0.0.1:${ports.apiserver}/`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--profiling=false',
  ];
}

export function schedulerArgs(adminKubeconfigPath: string, ports: ControlPlanePorts): string[] {
  return [
    `--kubeconfig=${adminKubeconfigPath}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--profiling=false',
  ];
}

export function controllerManagerArgs(
  adminKubeconfigPath: string,
  pki: ControlPlanePki,
  ports: ControlPlanePorts,
): string[] {
  return [
    `--kubeconfig=${adminKubeconfigPath}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    '--controllers=*',
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--node-monitor-period=${NODE_MONITOR.periodSeconds}s`,
    `--node-monitor-grace-period=${NODE_MONITOR.gracePeriodSeconds}s`,
    '--profiling=false',
  ];
}
