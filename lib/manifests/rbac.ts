import { DEFAULT_FORWARDER_SERVICE_ACCOUNT, FORWARDER_APP, forwarderName } from '../reconcile/forwarders.ts';
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
 * a real API server. Writes to nodes go by name to the virtual nodes only (`nodeNames`):
 * `create` cannot be limited by resourceNames (RBAC sees no name before the object exists),
 * so it is a rule of its own and the admission policy below checks the name. Pod deletion and
 * status writes cannot be limited by name at all (the pods are the users'): the policy limits
 * them to pods bound to the virtual nodes.
 */
export function clusterRules(nodeNames: readonly string[]): PolicyRule[] {
  return [
    // observe pods bound to the virtual nodes; delete (grace 0) after the instance is gone
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
    { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'patch', 'update'] },
    // the virtual nodes: create, keep labels/taints/capacity and the Ready condition current
    { apiGroups: [''], resources: ['nodes'], verbs: ['create'] },
    {
      apiGroups: [''],
      resources: ['nodes'],
      verbs: ['get', 'update', 'patch'],
      resourceNames: [...nodeNames],
    },
    {
      apiGroups: [''],
      resources: ['nodes/status'],
      verbs: ['patch', 'update'],
      resourceNames: [...nodeNames],
    },
    // pod events, deduplicated by bumping the count of an existing event
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update', 'get', 'list'] },
  ];
}

/**
 * Node heartbeats: Leases in kube-node-lease only (a Role there, not cluster-wide), and only
 * the virtual nodes' by name; `create` is separate for the same reason as the nodes'.
 */
export function leaseRules(nodeNames: readonly string[]): PolicyRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'update', 'patch'],
      resourceNames: [...nodeNames],
    },
  ];
}

/**
 * What the agent endpoint (the public agent function) does to the cluster, as its own
 * ServiceAccount with its own kubeconfig (ADR 0022): read the pod, write its status as the
 * host reports it, record events. Env sources come from the same per-namespace Roles as the
 * reconciler's. No nodes, no leases, no pod deletion, no list or watch.
 */
export const AGENT_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'get'] },
];

/**
 * Forwarder pods (ADR 0024) in anex's own namespace: the reconciler makes and removes them. A
 * Role there, not cluster-wide; the admission policy below says which pods it may create.
 */
export const FORWARDER_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'create', 'delete'] },
];

/** The Role (and binding) that lets the reconciler manage forwarder pods in anex's namespace. */
export const FORWARDER_ROLE = 'anex-forwarders';

/** What a refused pod create is told. */
export function forwarderPolicyMessage(namespace: string): string {
  return `anex's ServiceAccounts may create only forwarder pods in ${namespace}: named ${forwarderName('')}(pod uid), labelled app.kubernetes.io/name=${FORWARDER_APP}, ServiceAccount ${DEFAULT_FORWARDER_SERVICE_ACCOUNT}, projected ServiceAccount tokens as their only volumes, no env, no init containers, no host namespaces, no privileges`;
}

/** The agent endpoint's ServiceAccount and the Secret its long-lived token is made in. */
export const AGENT_SERVICE_ACCOUNT = 'anex-agent';
export const AGENT_TOKEN_SECRET = 'anex-agent-token';

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

/**
 * The Kubernetes groups the functions' IAM roles are mapped to on EKS (access entries,
 * docs/deploy.md): the policy matches them as it matches the ServiceAccounts.
 */
export const IAM_GROUPS = { reconciler: 'anex:reconciler', agent: 'anex:agent' } as const;

/** The admission policy (and its binding) that keeps anex's ServiceAccounts to anex's nodes and pods. */
export const ADMISSION_POLICY = 'anex-service-accounts';

/** What a refused write is told (the tests' evidence that the policy, not RBAC, refused). */
export function admissionPolicyMessage(nodeNames: readonly string[]): string {
  return `anex's ServiceAccounts may only change the anex nodes (${nodeNames.join(', ')}), their leases and the pods bound to them`;
}

/**
 * A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes ≥ 1.30) for what
 * RBAC cannot say by name: anex's two ServiceAccounts may delete a pod or write its status
 * only when the stored pod is bound (`spec.nodeName`) to a virtual node, and may create or
 * write only the virtual nodes and their leases, and may create and delete only forwarder pods
 * (ADR 0024) in anex's namespace. It matches those two users (and the
 * {@link IAM_GROUPS} of the EKS access-entry route) only, so nobody else's requests are
 * evaluated; failurePolicy Fail, so a policy
 * that cannot be evaluated refuses rather than allows. A refusal is a 403 (reason Forbidden),
 * as RBAC's are.
 */
export function admissionPolicyManifests(options: ManifestOptions): KubeObject[] {
  const labels = commonLabels(options, 'reconciler');
  const users = [MANIFEST_DEFAULTS.serviceAccount, AGENT_SERVICE_ACCOUNT]
    .map((name) => `'system:serviceaccount:${options.namespace}:${name}'`)
    .join(', ');
  const groups = Object.values(IAM_GROUPS)
    .map((g) => `'${g}'`)
    .join(', ');
  const nodes = options.nodeNames.map((n) => `'${n}'`).join(', ');
  // CREATE has only the new object, the others both: the name is the same in either.
  const name = '(object != null ? object : oldObject).metadata.name';
  const message = admissionPolicyMessage(options.nodeNames);
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: ADMISSION_POLICY, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'DELETE'], resources: ['pods'] },
            { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/status'] },
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['nodes', 'nodes/status'],
            },
            {
              apiGroups: ['coordination.k8s.io'],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['leases'],
            },
          ],
        },
        matchConditions: [
          {
            name: 'anex-service-accounts',
            expression: `request.userInfo.username in [${users}] || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in [${groups}]))`,
          },
        ],
        variables: [
          { name: 'anexNodes', expression: `[${nodes}]` },
          ...forwarderVariables(options.namespace),
        ],
        validations: [
          {
            // The stored pod: for DELETE the only one there is, for a status write the one
            // changed; a forwarder (ADR 0024) may be deleted too. Creates: the next rule.
            expression:
              "request.resource.resource != 'pods' || request.operation == 'CREATE' || (oldObject != null && has(oldObject.spec.nodeName) && oldObject.spec.nodeName in variables.anexNodes) || (request.operation == 'DELETE' && variables.forwarder)",
            message,
            reason: 'Forbidden',
          },
          {
            // Creating a pod in a namespace can read every Secret there (a volume, an env
            // reference) and run as any ServiceAccount: only the forwarder's shape is let in.
            expression:
              "request.resource.resource != 'pods' || request.operation != 'CREATE' || (variables.forwarder && variables.forwarderSpec)",
            message: forwarderPolicyMessage(options.namespace),
            reason: 'Forbidden',
          },
          {
            expression: `request.resource.resource != 'nodes' || ${name} in variables.anexNodes`,
            message,
            reason: 'Forbidden',
          },
          {
            expression: `request.resource.resource != 'leases' || (request.namespace == '${NODE_LEASE_NAMESPACE}' && ${name} in variables.anexNodes)`,
            message,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: ADMISSION_POLICY, labels },
      spec: { policyName: ADMISSION_POLICY, validationActions: ['Deny'] },
    },
  ];
}

/**
 * The policy's CEL variables for forwarder pods: `forwarder` — the pod (new on CREATE, stored
 * on DELETE) is in anex's namespace, named and labelled as a forwarder; `forwarderSpec` — the
 * new pod has the forwarder's shape (lib/reconcile/forwarders.ts forwarderManifest).
 */
function forwarderVariables(namespace: string): { name: string; expression: string }[] {
  const pod = '(object != null ? object : oldObject)';
  const flag = (field: string) => `!(has(object.spec.${field}) && object.spec.${field})`;
  const container =
    'c, !has(c.env) && !has(c.envFrom) && has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && !c.securityContext.allowPrivilegeEscalation && !(has(c.securityContext.privileged) && c.securityContext.privileged) && !(has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add))';
  return [
    {
      name: 'forwarder',
      expression: `request.namespace == '${namespace}' && ${pod}.metadata.name.startsWith('${forwarderName('')}') && has(${pod}.metadata.labels) && 'app.kubernetes.io/name' in ${pod}.metadata.labels && ${pod}.metadata.labels['app.kubernetes.io/name'] == '${FORWARDER_APP}'`,
    },
    {
      name: 'forwarderSpec',
      expression: [
        `object.spec.serviceAccountName == '${DEFAULT_FORWARDER_SERVICE_ACCOUNT}'`,
        '!has(object.spec.initContainers) && !has(object.spec.ephemeralContainers)',
        `${flag('hostNetwork')} && ${flag('hostPID')} && ${flag('hostIPC')}`,
        '(!has(object.spec.volumes) || object.spec.volumes.all(v, has(v.projected) && v.projected.sources.all(s, has(s.serviceAccountToken))))',
        `object.spec.containers.all(${container})`,
      ].join(' && '),
    },
  ];
}

export function rbacManifests(options: ManifestOptions): KubeObject[] {
  const labels = commonLabels(options, 'reconciler');
  const name = MANIFEST_DEFAULTS.serviceAccount;
  const subject = { kind: 'ServiceAccount', name, namespace: options.namespace };
  const agentSubject = { kind: 'ServiceAccount', name: AGENT_SERVICE_ACCOUNT, namespace: options.namespace };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: options.namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: options.namespace, labels },
      // The token is read from the Secret below once, not mounted into any pod.
      automountServiceAccountToken: false,
    },
    ...tokenSecret(options, MANIFEST_DEFAULTS.tokenSecret, name, labels),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: clusterRules(options.nodeNames),
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
      rules: leaseRules(options.nodeNames),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${name}-node-leases`, namespace: NODE_LEASE_NAMESPACE, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-node-leases` },
      subjects: [subject],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: FORWARDER_ROLE, namespace: options.namespace, labels },
      rules: FORWARDER_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: FORWARDER_ROLE, namespace: options.namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: FORWARDER_ROLE },
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
        // Both read env sources: the passes check them before renting, the agent endpoint sends them.
        subjects: [subject, agentSubject],
      },
    ]),
    ...agentManifests(options, labels),
    ...admissionPolicyManifests(options),
  ];
}

/**
 * The agent endpoint's own ServiceAccount, token Secret, ClusterRole and binding: the public
 * agent function holds this credential, never the reconciler's (ADR 0022).
 */
function agentManifests(options: ManifestOptions, labels: Record<string, string>): KubeObject[] {
  const name = AGENT_SERVICE_ACCOUNT;
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: options.namespace, labels },
      automountServiceAccountToken: false,
    },
    ...tokenSecret(options, AGENT_TOKEN_SECRET, name, labels),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: AGENT_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: options.namespace }],
    },
  ];
}

/**
 * The Secret Kubernetes fills with a long-lived token for `serviceAccount` (the functions'
 * kubeconfigs are made from it, docs/deploy.md; delete it to revoke) — none with IAM auth.
 */
function tokenSecret(
  options: ManifestOptions,
  secretName: string,
  serviceAccount: string,
  labels: Record<string, string>,
): KubeObject[] {
  if (options.iamAuth === true) return [];
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: secretName,
        namespace: options.namespace,
        labels,
        annotations: { 'kubernetes.io/service-account.name': serviceAccount },
      },
    },
  ];
}
