import { randomBytes } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PodRef } from '../../../lib/kube/cluster.ts';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import { virtualNodeSpec } from '../../../lib/kube/virtual-node.ts';
import type { KubeObject } from '../../../lib/manifests/common.ts';
import {
  ADMISSION_POLICY,
  AGENT_SERVICE_ACCOUNT,
  admissionPolicyMessage,
  forwarderPolicyMessage,
  IAM_GROUPS,
  NODE_LEASE_NAMESPACE,
} from '../../../lib/manifests/rbac.ts';
import { buildManifests } from '../../../lib/manifests/render.ts';
import {
  FORWARDER_POD_UID_LABEL,
  type ForwardingConfig,
  forwarderManifest,
} from '../../../lib/reconcile/forwarders.ts';
import { gatewayManifests } from '../../../lib/tunnel/gateway/manifests.ts';
import { adminKubeConfig, createTestNamespace, type TestNamespace } from '../../support/index.ts';

// `anex manifests` RBAC against the real kube-apiserver: the ServiceAccount's token (from the
// TokenRequest API) can do everything the reconciler's Kubernetes adapter does — proven with
// KubeCluster itself — and nothing it was not granted.

const suffix = randomBytes(3).toString('hex');
const anexNamespace = `anex-rbac-${suffix}`;
const nodeName = `anex-rbac-${suffix}`;
/** a node that is not anex's (as a kubelet would register it; made by the admin) */
const otherNode = `other-rbac-${suffix}`;
/** the one namespace whose Secrets and ConfigMaps anex may read for pods' env */
const envNamespace = `anex-rbac-env-${suffix}`;
const { objects } = buildManifests({
  version: '0.0.0-test',
  namespace: anexNamespace,
  nodeNames: [nodeName],
  envNamespaces: [envNamespace],
  webhookUrl: `https://127.0.0.1:9/admit/${'t'.repeat(32)}`,
});
const WEBHOOK_KINDS = ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'];
const rbacObjects = objects.filter((o) => !WEBHOOK_KINDS.includes(o.kind));

let admin: KubeConfig;
let serviceAccount: KubeConfig;
/** the agent endpoint's narrower ServiceAccount (ADR 0022) */
let agentAccount: KubeConfig;
let workload: TestNamespace;

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  await call.catch((error: { code?: number }) => {
    if (error.code !== 404) throw error;
  });
}

/** A KubeConfig for the same API server, authenticated only by `token`. */
function tokenKubeConfig(token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('the admin kubeconfig has no current cluster');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ ...cluster, name: 'test' }],
    users: [{ name: 'anex', token }],
    contexts: [{ name: 'anex', cluster: 'test', user: 'anex' }],
    currentContext: 'anex',
  });
  return kubeConfig;
}

beforeAll(async () => {
  admin = adminKubeConfig();
  const objectsApi = KubernetesObjectApi.makeApiClient(admin);
  // Cluster-scoped names are fixed ("anex"): clear leftovers of an interrupted earlier run.
  for (const object of [...rbacObjects].reverse()) {
    if (object.kind !== 'Namespace') await ignoreNotFound(objectsApi.delete(object as KubernetesObject));
  }
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: envNamespace } } });
  for (const object of rbacObjects) await objectsApi.create(object as KubernetesObject);
  const tokenOf = async (name: string) =>
    (
      await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
        name,
        namespace: anexNamespace,
        body: { spec: { audiences: [], expirationSeconds: 600 } },
      })
    ).status?.token ?? '';
  serviceAccount = tokenKubeConfig(await tokenOf('anex'));
  agentAccount = tokenKubeConfig(await tokenOf(AGENT_SERVICE_ACCOUNT));
  await admin.makeApiClient(CoreV1Api).createNode({ body: { metadata: { name: otherNode } } });
  workload = await createTestNamespace('rbac');
  await policyInForce();
});

/**
 * The API server compiles a new admission policy asynchronously: wait until it refuses the
 * ServiceAccount a node that is not anex's (a create RBAC allows), removing any that slipped in.
 */
async function policyInForce(): Promise<void> {
  const probe = `not-anex-probe-${suffix}`;
  const core = serviceAccount.makeApiClient(CoreV1Api);
  for (let attempt = 0; attempt < 120; attempt++) {
    const refused = await core.createNode({ body: { metadata: { name: probe } } }).then(
      () => false,
      (error: { code?: number }) => error.code === 403 || error.code === 422,
    );
    if (refused) return;
    await ignoreNotFound(admin.makeApiClient(CoreV1Api).deleteNode({ name: probe }));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the ${ADMISSION_POLICY} policy never took effect`);
}

afterAll(async () => {
  const objectsApi = admin === undefined ? undefined : KubernetesObjectApi.makeApiClient(admin);
  await workload?.remove();
  await ignoreNotFound(
    admin?.makeApiClient(CoreV1Api).deleteNamespace({ name: envNamespace }) ?? Promise.resolve(),
  );
  for (const name of [nodeName, otherNode]) {
    await ignoreNotFound(admin?.makeApiClient(CoreV1Api).deleteNode({ name }) ?? Promise.resolve());
  }
  for (const object of [...rbacObjects].reverse()) {
    await ignoreNotFound(objectsApi?.delete(object as KubernetesObject) ?? Promise.resolve());
  }
});

async function canI(
  attributes: {
    verb: string;
    resource: string;
    subresource?: string;
    group?: string;
    namespace?: string;
    name?: string;
  },
  as: KubeConfig = serviceAccount,
): Promise<boolean> {
  const review = await as.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { group: '', ...attributes } } },
  });
  return review.status?.allowed === true;
}

describe('anex manifests RBAC on a real API server', () => {
  it('does, through KubeCluster with the ServiceAccount token, everything a reconcile pass does', async () => {
    const cluster = new KubeCluster({ kubeConfig: serviceAccount });
    const spec = virtualNodeSpec('vastai', nodeName, { internalIp: '10.99.254.1' });
    await cluster.ensureNode(spec, { now: Date.now() }); // create + status
    await cluster.ensureNode(spec, { now: Date.now() }); // read + patch + status
    await cluster.renewNodeLease(nodeName, { now: Date.now(), durationSeconds: 40 }); // create
    await cluster.renewNodeLease(nodeName, { now: Date.now(), durationSeconds: 40 }); // patch
    const created = await workload.core.createNamespacedPod({
      namespace: workload.name,
      body: {
        metadata: { name: 'train' },
        spec: {
          nodeName,
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'example/trainer:1' }],
        },
      },
    });
    const pod: PodRef = { namespace: workload.name, name: 'train', uid: created.metadata?.uid ?? '' };
    expect((await cluster.listPods(nodeName)).map((p) => p.uid)).toEqual([pod.uid]);
    expect((await cluster.getPod(workload.name, 'train'))?.uid).toBe(pod.uid);
    const status = {
      phase: 'Pending' as const,
      conditions: [{ type: 'anex.sh/Provisioned', status: 'False' as const, reason: 'NoMatchingOffers' }],
      containerStatuses: [],
    };
    expect(await cluster.updatePodStatus(pod, status)).toBe('updated');
    const event = {
      type: 'Warning' as const,
      reason: 'NoMatchingOffers' as const,
      message: 'no offer matches',
    };
    await cluster.recordEvent(pod, event, { now: Date.now() }); // create
    await cluster.recordEvent(pod, event, { now: Date.now() }); // read + patch (count 2)
    expect(await cluster.finalizePod(pod)).toBe('deleted');
    // A pod's env from a Secret: readable in the namespace the operator named, refused elsewhere
    // with the flag that would allow it.
    const adminCore = admin.makeApiClient(CoreV1Api);
    await adminCore.createNamespacedSecret({
      namespace: envNamespace,
      body: { metadata: { name: 'hf' }, stringData: { token: 'tok' } },
    });
    expect(await cluster.readEnvSource(envNamespace, 'Secret', 'hf')).toEqual({ token: 'tok' });
    expect(await cluster.readEnvSource(envNamespace, 'ConfigMap', 'none')).toBeUndefined();
    await expect(cluster.readEnvSource(workload.name, 'Secret', 'hf')).rejects.toThrow(
      `namespace ${workload.name} is not one anex reads pods' env from (add it with anex manifests --env-namespaces)`,
    );
  });

  it.each([
    { verb: 'watch', resource: 'pods' },
    { verb: 'delete', resource: 'pods', namespace: 'default' },
    { verb: 'update', resource: 'pods', subresource: 'status', namespace: 'default' },
    { verb: 'update', resource: 'nodes', subresource: 'status', name: nodeName },
    { verb: 'patch', resource: 'nodes', name: nodeName },
    { verb: 'create', resource: 'nodes' },
    { verb: 'list', resource: 'events', namespace: 'default' },
    { verb: 'get', resource: 'secrets', namespace: envNamespace },
    { verb: 'get', resource: 'configmaps', namespace: envNamespace },
    {
      verb: 'update',
      resource: 'leases',
      group: 'coordination.k8s.io',
      namespace: NODE_LEASE_NAMESPACE,
      name: nodeName,
    },
    { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: NODE_LEASE_NAMESPACE },
  ])('allows %j', async (attributes) => {
    expect(await canI(attributes)).toBe(true);
  });

  it.each([
    { verb: 'delete', resource: 'nodes' },
    // no cluster-wide node write: only the virtual nodes, by name
    { verb: 'patch', resource: 'nodes' },
    { verb: 'update', resource: 'nodes' },
    { verb: 'patch', resource: 'nodes', name: otherNode },
    { verb: 'patch', resource: 'nodes', subresource: 'status' },
    { verb: 'patch', resource: 'nodes', subresource: 'status', name: otherNode },
    { verb: 'list', resource: 'nodes' },
    {
      verb: 'update',
      resource: 'leases',
      group: 'coordination.k8s.io',
      namespace: NODE_LEASE_NAMESPACE,
      name: otherNode,
    },
    { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
    { verb: 'get', resource: 'secrets', namespace: anexNamespace },
    { verb: 'list', resource: 'secrets' },
    { verb: 'list', resource: 'secrets', namespace: envNamespace },
    { verb: 'watch', resource: 'configmaps', namespace: envNamespace },
    { verb: 'create', resource: 'pods', namespace: 'default' },
    { verb: 'patch', resource: 'pods', namespace: 'default' },
    { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'default' },
    { verb: 'get', resource: 'configmaps', namespace: 'default' },
    {
      verb: 'update',
      resource: 'leases',
      group: 'coordination.k8s.io',
      namespace: 'default',
      name: nodeName,
    },
    { verb: 'delete', resource: 'leases', group: 'coordination.k8s.io', namespace: NODE_LEASE_NAMESPACE },
    { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: anexNamespace },
    { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
    { verb: 'patch', resource: 'validatingwebhookconfigurations', group: 'admissionregistration.k8s.io' },
  ])('forbids %j', async (attributes) => {
    expect(await canI(attributes)).toBe(false);
  });

  it('is refused a forbidden call by the API server itself (403)', async () => {
    const core = serviceAccount.makeApiClient(CoreV1Api);
    await expect(core.deleteNode({ name: nodeName })).rejects.toMatchObject({ code: 403 });
    await expect(core.listNamespacedSecret({ namespace: anexNamespace })).rejects.toMatchObject({
      code: 403,
    });
  });
});

describe('anex manifests admission policy on a real API server', () => {
  const refusal = admissionPolicyMessage([nodeName]);

  async function podOn(node: string, name: string): Promise<PodRef> {
    const created = await workload.core.createNamespacedPod({
      namespace: workload.name,
      body: {
        metadata: { name },
        spec: {
          nodeName: node,
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'example/x:1' }],
        },
      },
    });
    return { namespace: workload.name, name, uid: created.metadata?.uid ?? '' };
  }

  const status = {
    phase: 'Pending' as const,
    conditions: [{ type: 'anex.sh/Provisioned', status: 'False' as const, reason: 'NoMatchingOffers' }],
    containerStatuses: [],
  };

  it("lets the ServiceAccount delete and write the status of pods on the anex node, and refuses others' with the policy's message", async () => {
    const cluster = new KubeCluster({ kubeConfig: serviceAccount });
    const ours = await podOn(nodeName, 'ours');
    const theirs = await podOn(otherNode, 'theirs');
    expect(await cluster.updatePodStatus(ours, status)).toBe('updated');
    expect(await cluster.finalizePod(ours)).toBe('deleted');
    await expect(cluster.updatePodStatus(theirs, status)).rejects.toThrow(refusal);
    await expect(cluster.finalizePod(theirs)).rejects.toThrow(refusal);
    const core = serviceAccount.makeApiClient(CoreV1Api);
    await expect(
      core.deleteNamespacedPod({ namespace: workload.name, name: 'theirs' }),
    ).rejects.toMatchObject({
      code: 403,
      body: expect.stringContaining(ADMISSION_POLICY),
    });
    // the admin still can: the policy matches anex's ServiceAccounts only
    expect(
      (await workload.core.readNamespacedPod({ namespace: workload.name, name: 'theirs' })).metadata?.uid,
    ).toBe(theirs.uid);
  });

  it('refuses the ServiceAccount any node or node lease but the anex ones, RBAC where it can and the policy for create', async () => {
    const core = serviceAccount.makeApiClient(CoreV1Api);
    await expect(
      core.createNode({ body: { metadata: { name: `not-anex-${suffix}` } } }),
    ).rejects.toMatchObject({
      code: 403,
      body: expect.stringContaining(refusal),
    });
    await expect(
      core.patchNode({ name: otherNode, body: { metadata: { labels: { hijacked: 'yes' } } } }),
    ).rejects.toMatchObject({
      code: 403,
      body: expect.stringContaining('cannot patch resource \\"nodes\\"'),
    });
    const leases = serviceAccount.makeApiClient(CoordinationV1Api);
    await expect(
      leases.createNamespacedLease({
        namespace: NODE_LEASE_NAMESPACE,
        body: { metadata: { name: otherNode }, spec: { holderIdentity: otherNode } },
      }),
    ).rejects.toMatchObject({ code: 403, body: expect.stringContaining(refusal) });
  });

  it('gives the agent ServiceAccount only what the agent endpoint does: the pod, its status, events, env sources', async () => {
    const cluster = new KubeCluster({ kubeConfig: agentAccount });
    const pod = await podOn(nodeName, 'agent-pod');
    expect((await cluster.getPod(workload.name, 'agent-pod'))?.uid).toBe(pod.uid);
    expect(await cluster.updatePodStatus(pod, status)).toBe('updated');
    const event = { type: 'Normal' as const, reason: 'Started' as const, message: 'host reported' };
    await cluster.recordEvent(pod, event, { now: Date.now() });
    await cluster.recordEvent(pod, event, { now: Date.now() });
    await admin.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: envNamespace,
      body: { metadata: { name: 'agent-cm' }, data: { mode: 'fast' } },
    });
    expect(await cluster.readEnvSource(envNamespace, 'ConfigMap', 'agent-cm')).toEqual({ mode: 'fast' });
    const theirs = await podOn(otherNode, 'agent-theirs');
    await expect(cluster.updatePodStatus(theirs, status)).rejects.toThrow(refusal);
    for (const attributes of [
      { verb: 'delete', resource: 'pods', namespace: workload.name },
      { verb: 'list', resource: 'pods' },
      { verb: 'create', resource: 'nodes' },
      { verb: 'patch', resource: 'nodes', name: nodeName },
      { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: NODE_LEASE_NAMESPACE },
      { verb: 'get', resource: 'secrets', namespace: workload.name },
    ]) {
      expect([attributes, await canI(attributes, agentAccount)]).toEqual([attributes, false]);
    }
  });
});

describe('anex manifests and forwarder pods (ADR 0024) on a real API server', () => {
  const forwarding: ForwardingConfig = {
    namespace: anexNamespace,
    image: 'example/anex-gateway:1',
    kubeletUrl: `https://anex-kubelet.${anexNamespace}.svc:10250`,
    serviceAccount: 'anex-forwarder',
    audience: 'anex-kubelet',
  };
  const anexPod = {
    namespace: 'ml',
    name: 'vllm-0',
    uid: `fwd-${suffix}`,
    annotations: {},
    labels: {},
    nodeSelector: {},
    containers: [{ name: 'main', image: 'vllm:1', env: {}, ports: [8000] }],
    restartPolicy: 'Always' as const,
    status: undefined,
  };

  beforeAll(async () => {
    // The gateway manifests make it (lib/tunnel/gateway/manifests.ts); the ServiceAccount
    // admission plugin refuses a pod whose ServiceAccount does not exist.
    await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccount({
      namespace: anexNamespace,
      body: { metadata: { name: 'anex-forwarder' }, automountServiceAccountToken: false },
    });
  });

  afterAll(async () => {
    // The gateway's describe below applies the gateway manifests, this ServiceAccount among them.
    await ignoreNotFound(
      admin
        .makeApiClient(CoreV1Api)
        .deleteNamespacedServiceAccount({ namespace: anexNamespace, name: 'anex-forwarder' }),
    );
  });

  async function forceDelete(name: string): Promise<void> {
    await ignoreNotFound(
      admin
        .makeApiClient(CoreV1Api)
        .deleteNamespacedPod({ namespace: anexNamespace, name, gracePeriodSeconds: 0 }),
    );
  }

  it('lets the reconciler create, list and delete a forwarder in its namespace through KubeCluster', async () => {
    const cluster = new KubeCluster({ kubeConfig: serviceAccount });
    const manifest = forwarderManifest(forwarding, anexPod);
    try {
      expect(await cluster.createPod(manifest)).toBe('created');
      const listed = await cluster.listLabelledPods(anexNamespace, FORWARDER_POD_UID_LABEL);
      expect(listed.map((p) => [p.name, p.labels[FORWARDER_POD_UID_LABEL]])).toEqual([
        [manifest.metadata.name, anexPod.uid],
      ]);
      expect(await cluster.deletePod(listed[0] as PodRef)).toBe('deleted');
    } finally {
      await forceDelete(manifest.metadata.name);
    }
  });

  it.each([
    [
      'a Secret volume',
      (spec: Record<string, unknown>) => ({
        ...spec,
        volumes: [{ name: 'token', secret: { secretName: 'anex-token' } }],
      }),
    ],
    ['another ServiceAccount', (spec: Record<string, unknown>) => ({ ...spec, serviceAccountName: 'anex' })],
    ['the host’s process namespace', (spec: Record<string, unknown>) => ({ ...spec, hostPID: true })],
    [
      'an env entry (a secretKeyRef reads Secrets)',
      (spec: Record<string, unknown>) => ({
        ...spec,
        containers: (spec.containers as Record<string, unknown>[]).map((c) => ({
          ...c,
          env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'anex-token', key: 'token' } } }],
        })),
      }),
    ],
  ])('refuses the reconciler a forwarder with %s, with the policy’s message', async (_, change) => {
    const cluster = new KubeCluster({ kubeConfig: serviceAccount });
    const manifest = forwarderManifest(forwarding, anexPod);
    const bad = { ...manifest, spec: change({ ...manifest.spec }) };
    try {
      await expect(cluster.createPod(bad)).rejects.toThrow(forwarderPolicyMessage(anexNamespace));
    } finally {
      await forceDelete(manifest.metadata.name);
    }
  });

  it('refuses the reconciler any other pod in its namespace, and deleting one that is not a forwarder', async () => {
    const core = serviceAccount.makeApiClient(CoreV1Api);
    await expect(
      core.createNamespacedPod({
        namespace: anexNamespace,
        body: {
          metadata: { name: 'not-a-forwarder' },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'x', image: 'example/x:1' }] },
        },
      }),
    ).rejects.toMatchObject({
      code: 403,
      body: expect.stringContaining(forwarderPolicyMessage(anexNamespace)),
    });
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: anexNamespace,
      body: {
        metadata: { name: 'gateway-like' },
        spec: { automountServiceAccountToken: false, containers: [{ name: 'x', image: 'example/x:1' }] },
      },
    });
    try {
      await expect(
        core.deleteNamespacedPod({ namespace: anexNamespace, name: 'gateway-like' }),
      ).rejects.toMatchObject({
        code: 403,
        body: expect.stringContaining(admissionPolicyMessage([nodeName])),
      });
    } finally {
      await forceDelete('gateway-like');
    }
    expect(await canI({ verb: 'create', resource: 'pods', namespace: workload.name })).toBe(false);
    expect(await canI({ verb: 'create', resource: 'pods', namespace: anexNamespace })).toBe(true);
  });
});

/**
 * A request as another user — the API server's impersonation headers, sent with the admin's
 * client certificate: how an EKS access-entry user (an IAM role in a Kubernetes group) looks
 * to the API server, without EKS.
 */
async function asUser(
  user: { name: string; group: string },
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const server = new URL(admin.getCurrentCluster()?.server ?? '');
  const options: RequestOptions = {
    method,
    hostname: server.hostname,
    port: server.port,
    path,
    headers: {
      'content-type': 'application/json',
      'Impersonate-User': user.name,
      'Impersonate-Group': user.group,
    },
  };
  await admin.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const call = httpsRequest(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    call.on('error', reject);
    call.end(JSON.stringify(body));
  });
}

describe('anex manifests admission policy for the EKS access-entry groups', () => {
  const binding = `anex-iam-rbac-${suffix}`;

  afterAll(async () => {
    await ignoreNotFound(
      admin.makeApiClient(RbacAuthorizationV1Api).deleteClusterRoleBinding({ name: binding }),
    );
  });

  it('confines a user in the anex:reconciler group as it confines the ServiceAccount', async () => {
    // What docs/deploy.md has the operator do for the IAM route: the group bound to the ClusterRole.
    await admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: binding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'anex' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: IAM_GROUPS.reconciler }],
      },
    });
    const user = {
      name: `arn:aws:sts::123456789012:assumed-role/anex-tick-${suffix}/session`,
      group: IAM_GROUPS.reconciler,
    };
    let refused = { status: 0, text: '' };
    // RBAC bindings reach the authorizer's cache asynchronously: wait for the create to get past it.
    for (let attempt = 0; attempt < 120; attempt++) {
      refused = await asUser(user, 'POST', '/api/v1/nodes', { metadata: { name: `iam-not-anex-${suffix}` } });
      if (refused.text.includes(ADMISSION_POLICY)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(refused.status).toBe(403);
    expect(refused.text).toContain(admissionPolicyMessage([nodeName]));
  });
});

describe('anex manifests webhook on a real API server', () => {
  it('is accepted as written (rules, CEL matchConditions, selectors)', async () => {
    const webhook = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as KubeObject;
    const api = admin.makeApiClient(AdmissionregistrationV1Api);
    await ignoreNotFound(api.deleteValidatingWebhookConfiguration({ name: webhook.metadata.name }));
    try {
      const stored = await api.createValidatingWebhookConfiguration({ body: webhook as never });
      expect(stored.webhooks?.map((w) => [w.name, w.matchConditions?.length, w.failurePolicy])).toEqual([
        ['validate.pods.anex.sh', 1, 'Ignore'],
        ['bindings.pods.anex.sh', 1, 'Ignore'],
        ['deletions.pods.anex.sh', 1, 'Ignore'],
      ]);
    } finally {
      // Removed at once: no pod of another test file is ever sent to the unreachable URL.
      await ignoreNotFound(api.deleteValidatingWebhookConfiguration({ name: webhook.metadata.name }));
    }
  });

  it('includes a mutating webhook the API server accepts as written (Fail, IfNeeded, CEL)', async () => {
    const webhook = objects.find((o) => o.kind === 'MutatingWebhookConfiguration') as KubeObject;
    const api = admin.makeApiClient(AdmissionregistrationV1Api);
    await ignoreNotFound(api.deleteMutatingWebhookConfiguration({ name: webhook.metadata.name }));
    try {
      // Created as a dry run: with failurePolicy Fail and an unreachable URL, a stored one would
      // refuse every anex pod of the other test files for as long as it existed.
      const stored = await api.createMutatingWebhookConfiguration({ body: webhook as never, dryRun: 'All' });
      expect(
        stored.webhooks?.map((w) => [
          w.name,
          w.matchConditions?.length,
          w.failurePolicy,
          w.reinvocationPolicy,
        ]),
      ).toEqual([['tolerations.pods.anex.sh', 1, 'Fail', 'IfNeeded']]);
    } finally {
      await ignoreNotFound(api.deleteMutatingWebhookConfiguration({ name: webhook.metadata.name }));
    }
  });
});

describe('the gateway ServiceAccount of the kubelet API (ADR 0023) on a real API server', () => {
  // Only the gateway's ServiceAccount and RBAC, under a name of this run (cluster-scoped names).
  const gatewayName = `anex-gw-${suffix}`;
  const gatewayRbac = gatewayManifests({
    name: gatewayName,
    namespace: anexNamespace,
    image: 'registry.example/anex-gateway:test',
    agentEndpointUrl: 'https://agent.example.com',
    vpnCidr: '10.250.0.0/16',
    nodeNames: [nodeName],
  }).filter((o) => o.kind === 'ServiceAccount' || o.kind.endsWith('Role') || o.kind.endsWith('Binding'));
  let gateway: KubeConfig;

  beforeAll(async () => {
    const objectsApi = KubernetesObjectApi.makeApiClient(admin);
    for (const object of gatewayRbac) await objectsApi.create(object as KubernetesObject);
    const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: gatewayName,
      namespace: anexNamespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    gateway = tokenKubeConfig(token.status?.token ?? '');
  });

  afterAll(async () => {
    const objectsApi = KubernetesObjectApi.makeApiClient(admin);
    for (const object of [...gatewayRbac].reverse())
      await ignoreNotFound(objectsApi.delete(object as KubernetesObject));
  });

  it('may review tokens and access, read the client CA and read pods, and nothing else', async () => {
    const allowed = [
      { verb: 'create', resource: 'tokenreviews', group: 'authentication.k8s.io' },
      { verb: 'create', resource: 'subjectaccessreviews', group: 'authorization.k8s.io' },
      {
        verb: 'get',
        resource: 'configmaps',
        namespace: 'kube-system',
        name: 'extension-apiserver-authentication',
      },
      { verb: 'get', resource: 'pods', namespace: workload.name },
      { verb: 'list', resource: 'pods' },
    ];
    const refused = [
      { verb: 'get', resource: 'configmaps', namespace: 'kube-system', name: 'coredns' },
      { verb: 'get', resource: 'secrets', namespace: workload.name },
      { verb: 'patch', resource: 'pods', namespace: workload.name },
      { verb: 'create', resource: 'pods', subresource: 'exec', namespace: workload.name },
      { verb: 'delete', resource: 'pods', namespace: workload.name },
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: nodeName },
      { verb: 'patch', resource: 'nodes', subresource: 'status', name: nodeName },
    ];
    // RBAC bindings reach the authorizer's cache asynchronously: wait for the first grant.
    const first = { verb: 'create', resource: 'tokenreviews', group: 'authentication.k8s.io' };
    for (let attempt = 0; attempt < 120 && !(await canI(first, gateway)); attempt++)
      await new Promise((resolve) => setTimeout(resolve, 250));
    for (const attributes of allowed)
      expect([attributes, await canI(attributes, gateway)]).toEqual([attributes, true]);
    for (const attributes of refused)
      expect([attributes, await canI(attributes, gateway)]).toEqual([attributes, false]);
  });

  it('reviews a token as the kubelet API does (system:auth-delegator)', async () => {
    const review = await gateway.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token: 'not-a-real-token' } },
    });
    expect(review.status?.authenticated).not.toBe(true);
  });
});
