import { commonLabels, type KubeObject, MANIFEST_DEFAULTS, type ManifestOptions } from './common.ts';

/** One RBAC rule: the API group, resources and verbs anex's Kubernetes adapter uses. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * Everything the reconciler does to the cluster (lib/kube/kube-cluster.ts) and nothing more.
 * A verb added there must be added here; test/integration/rbac proves the two agree against
 * a real API server.
 */
export const CLUSTER_RULES: readonly PolicyRule[] = [
  // observe pods bound to the virtual nodes; delete (grace 0) after the instance is gone
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
  { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'patch', 'update'] },
  // the virtual nodes: create, keep labels/taints/capacity and the Ready condition current
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'create', 'update', 'patch'] },
  { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch', 'update'] },
  // pod events, deduplicated by bumping the count of an existing event
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update', 'get', 'list'] },
];

/** Node heartbeats: Leases in kube-node-lease only (a Role there, not cluster-wide). */
export const LEASE_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] },
];

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/**
 * A pod's env from Secrets and ConfigMaps (lib/kube/env.ts), read when its agent bootstraps:
 * `get` only (no list, no watch), and only in the namespaces the operator names.
 */
export const ENV_SOURCE_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'] },
];

/** The Role (and binding) that lets anex read env sources in one namespace. */
export const ENV_SOURCE_ROLE = 'anex-env-sources';

export function rbacManifests(options: ManifestOptions): KubeObject[] {
  const labels = commonLabels(options, 'reconciler');
  const name = MANIFEST_DEFAULTS.serviceAccount;
  const subject = { kind: 'ServiceAccount', name, namespace: options.namespace };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: options.namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: options.namespace, labels },
      // The token is read from the Secret below once, not mounted into any pod.
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: MANIFEST_DEFAULTS.tokenSecret,
        namespace: options.namespace,
        labels,
        // Kubernetes fills in a long-lived token for this ServiceAccount (docs/deploy.md makes the
        // Lambda kubeconfig from it; delete the Secret to revoke).
        annotations: { 'kubernetes.io/service-account.name': name },
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: CLUSTER_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [subject],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${name}-node-leases`, namespace: NODE_LEASE_NAMESPACE, labels },
      rules: LEASE_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${name}-node-leases`, namespace: NODE_LEASE_NAMESPACE, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-node-leases` },
      subjects: [subject],
    },
    ...(options.envNamespaces ?? []).flatMap((namespace) => [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: ENV_SOURCE_ROLE, namespace, labels },
        rules: ENV_SOURCE_RULES,
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: ENV_SOURCE_ROLE, namespace, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ENV_SOURCE_ROLE },
        subjects: [subject],
      },
    ]),
  ];
}
