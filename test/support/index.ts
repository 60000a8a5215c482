/**
 * Test ground for integration and e2e tests (the `integration` vitest project).
 *
 * The project's globalSetup (./global-setup.ts) starts, once per run, a real Kubernetes
 * v1.33 control plane — etcd, kube-apiserver, kube-scheduler, kube-controller-manager,
 * built from the Go module proxy by lib/local/control-plane/build/build.sh and cached under
 * ${XDG_CACHE_HOME:-~/.cache}/anex/control-plane (KUBEBUILDER_ASSETS / TEST_ASSET_* honoured)
 * — and one in-memory dynalite (DynamoDB API over HTTP).
 * If a part cannot be built or started the run fails with a TestGroundError naming it.
 *
 * In a test file:
 *   const ns = await createTestNamespace();        // unique namespace, removed after the test
 *   await ns.core.createNamespacedPod({ namespace: ns.name, body });
 *   const kc = adminKubeConfig();                  // system:masters; kubeConfigFor(ns) sets a default namespace
 *   controlPlane().kubeconfigPath                  // the same admin kubeconfig as a file (for child processes)
 *   const table = await createTestTable(client);   // unique table from lib/state/table.ts in the run's dynalite
 *   const client = testDynamoClient();             // real @aws-sdk/client-dynamodb, dummy credentials
 *   const node = await registerVirtualNode(kc, { provider: 'vastai' }); // anex-like virtual Node + Lease heartbeat
 *   await eventually(async () => ..., { what: 'pod bound' });          // poll a controller's effect
 *
 * The cluster is shared by every file of the run (files run one at a time): use a
 * namespace per test, unique node names if you register nodes, and remove cluster-scoped
 * objects you create. The controller-manager's node grace period is shortened to
 * NODE_MONITOR.gracePeriodSeconds (20 s): renew a node's Lease more often than that. With
 * every node NotReady the node-lifecycle controller is in "master disruption mode" and adds
 * no NoExecute taint (no eviction): register a second, healthy node to test eviction.
 */
export { ADMIN_USER } from './certs.ts';
export {
  adminKubeConfig,
  controlPlane,
  createTestNamespace,
  createTestTable,
  dynamoInfo,
  kubeConfigFor,
  type TestNamespace,
  testDynamoClient,
} from './context.ts';
export type { ControlPlaneInfo } from './control-plane.ts';
export { NODE_MONITOR } from './control-plane-args.ts';
export { createTable, type DynamoInfo, dynamoClientFor, uniqueTableName } from './dynamo.ts';
export { TestGroundError } from './errors.ts';
export { type EventuallyOptions, eventually } from './eventually.ts';
export {
  aNodeLease,
  aVirtualNode,
  NODE_LEASE_NAMESPACE,
  type RegisteredVirtualNode,
  registerVirtualNode,
  type VirtualNodeSpec,
} from './virtual-node.ts';
