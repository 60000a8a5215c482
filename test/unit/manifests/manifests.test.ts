import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, ManifestOptions } from '../../../lib/manifests/common.ts';
import {
  AGENT_RULES,
  admissionPolicyMessage,
  FORWARDER_RULES,
  forwarderPolicyMessage,
  leaseRules,
  type PolicyRule,
  rbacManifests,
} from '../../../lib/manifests/rbac.ts';
import { buildManifests, formatManifests } from '../../../lib/manifests/render.ts';
import { mutatingWebhookUrl, WEBHOOK_NAMES } from '../../../lib/manifests/webhook.ts';

const WEBHOOK_URL = 'https://abc123.lambda-url.eu-west-1.on.aws/admit/Zx9TokenTokenToken0123';

function someOptions(overrides: Partial<ManifestOptions> = {}): ManifestOptions {
  return {
    version: '1.2.3',
    namespace: 'anex-system',
    nodeNames: ['anex-vastai', 'anex-runpod'],
    webhookUrl: WEBHOOK_URL,
    ...overrides,
  };
}

function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''}`);
  return found;
}

type Webhook = {
  name: string;
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  clientConfig: { url: string };
  rules: { operations: string[]; resources: string[] }[];
  matchConditions: { expression: string }[];
  namespaceSelector: { matchExpressions: { values: string[] }[] };
};

function webhooks(objects: readonly KubeObject[]): Webhook[] {
  return find(objects, 'ValidatingWebhookConfiguration').webhooks as Webhook[];
}

describe('buildManifests: RBAC', () => {
  const { objects } = buildManifests(someOptions());
  const names = ['anex-vastai', 'anex-runpod'];

  it.each([
    ['pods', ['get', 'list', 'watch', 'delete'], undefined],
    ['pods/status', ['get', 'patch', 'update'], undefined],
    ['nodes', ['create'], undefined],
    ['nodes', ['get', 'update', 'patch'], names],
    ['nodes/status', ['patch', 'update'], names],
    ['events', ['create', 'patch', 'update', 'get', 'list'], undefined],
  ])('lets the ServiceAccount use %s with exactly %j (names %j)', (resource, verbs, resourceNames) => {
    const rules = find(objects, 'ClusterRole', 'anex').rules as PolicyRule[];
    const rule = rules.find((r) => r.resources.includes(resource) && r.verbs[0] === verbs[0]);
    expect(rule).toEqual({
      apiGroups: [''],
      resources: [resource],
      verbs,
      ...(resourceNames === undefined ? {} : { resourceNames }),
    });
  });

  it('grants nothing else cluster-wide: no wildcards, no secrets, no other API group', () => {
    const rules = find(objects, 'ClusterRole', 'anex').rules as PolicyRule[];
    expect(rules).toHaveLength(6);
    const everything = rules.flatMap((r) => [...r.apiGroups, ...r.resources, ...r.verbs]);
    expect(everything).not.toContain('*');
    expect(everything).not.toContain('secrets');
    expect(new Set(rules.flatMap((r) => r.apiGroups))).toEqual(new Set(['']));
  });

  it('has no cluster-wide node write: every node update, patch and status write names the virtual nodes', () => {
    for (const role of objects.filter((o) => o.kind === 'ClusterRole')) {
      for (const rule of role.rules as PolicyRule[]) {
        if (!rule.resources.some((r) => r.startsWith('nodes'))) continue;
        const writes = rule.verbs.filter((v) =>
          ['update', 'patch', 'delete', 'deletecollection'].includes(v),
        );
        if (writes.length > 0) expect(rule.resourceNames).toEqual(names);
        expect(rule.verbs).not.toContain('delete');
      }
    }
  });

  it('limits node leases to a Role in kube-node-lease, by name except create, bound to the ServiceAccount', () => {
    const role = find(objects, 'Role');
    expect(role.metadata.namespace).toBe('kube-node-lease');
    expect(role.rules).toEqual(leaseRules(names));
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'update', 'patch'],
        resourceNames: names,
      },
    ]);
    expect(find(objects, 'RoleBinding')).toMatchObject({
      metadata: { namespace: 'kube-node-lease' },
      roleRef: { kind: 'Role', name: role.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: 'anex', namespace: 'anex-system' }],
    });
    expect(find(objects, 'ClusterRoleBinding', 'anex')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'anex' },
      subjects: [{ kind: 'ServiceAccount', name: 'anex', namespace: 'anex-system' }],
    });
  });

  it('lets the reconciler make and remove forwarder pods in its own namespace only, by a Role (ADR 0024)', () => {
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'anex-forwarders');
    expect(role).toMatchObject({ metadata: { namespace: 'anex-system' } });
    expect(role?.rules).toEqual(FORWARDER_RULES);
    expect(FORWARDER_RULES).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'create', 'delete'] },
    ]);
    const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'anex-forwarders');
    expect(binding).toMatchObject({
      metadata: { namespace: 'anex-system' },
      roleRef: { kind: 'Role', name: 'anex-forwarders' },
      subjects: [{ kind: 'ServiceAccount', name: 'anex', namespace: 'anex-system' }],
    });
    // Nothing cluster-wide creates pods.
    for (const cluster of objects.filter((o) => o.kind === 'ClusterRole')) {
      for (const rule of cluster.rules as PolicyRule[]) {
        if (rule.resources.includes('pods')) expect(rule.verbs).not.toContain('create');
      }
    }
    const policy = find(objects, 'ValidatingAdmissionPolicy').spec as {
      matchConstraints: { resourceRules: { operations: string[]; resources: string[] }[] };
    };
    expect(policy.matchConstraints.resourceRules[0]).toMatchObject({
      operations: ['CREATE', 'DELETE'],
      resources: ['pods'],
    });
  });

  it('gives the agent endpoint its own ServiceAccount, token and a get/patch-status/events role', () => {
    expect(find(objects, 'ClusterRole', 'anex-agent').rules).toEqual(AGENT_RULES);
    expect(find(objects, 'ClusterRoleBinding', 'anex-agent')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'anex-agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'anex-agent', namespace: 'anex-system' }],
    });
    expect(find(objects, 'Secret', 'anex-agent-token')).toMatchObject({
      type: 'kubernetes.io/service-account-token',
      metadata: { annotations: { 'kubernetes.io/service-account.name': 'anex-agent' } },
    });
    const everything = AGENT_RULES.flatMap((r) => [...r.resources, ...r.verbs]);
    for (const absent of ['nodes', 'leases', 'delete', 'list', 'watch', 'secrets']) {
      expect(everything).not.toContain(absent);
    }
  });

  it('prints no long-lived token Secret with --iam-auth (EKS access entries), everything else unchanged', () => {
    const { objects: iam } = buildManifests(someOptions({ iamAuth: true }));
    expect(iam.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(iam.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      objects.filter((o) => o.kind !== 'Secret').map((o) => `${o.kind}/${o.metadata.name}`),
    );
    expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([
      'anex-token',
      'anex-agent-token',
    ]);
  });

  it('binds both ServiceAccounts in each env namespace', () => {
    const { objects: withEnv } = buildManifests(someOptions({ envNamespaces: ['ml'] }));
    const binding = withEnv.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'ml');
    expect(binding?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'anex', namespace: 'anex-system' },
      { kind: 'ServiceAccount', name: 'anex-agent', namespace: 'anex-system' },
    ]);
  });

  it('adds a ValidatingAdmissionPolicy for both ServiceAccounts naming the virtual nodes, and its Deny binding', () => {
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'anex-service-accounts');
    const spec = policy.spec as {
      failurePolicy: string;
      matchConditions: { expression: string }[];
      variables: { expression: string }[];
      validations: { message: string }[];
    };
    expect(spec.failurePolicy).toBe('Fail');
    expect(spec.matchConditions[0]?.expression).toBe(
      "request.userInfo.username in ['system:serviceaccount:anex-system:anex', 'system:serviceaccount:anex-system:anex-agent']" +
        " || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ['anex:reconciler', 'anex:agent']))",
    );
    expect(spec.variables.map((v) => (v as { name?: string }).name)).toEqual([
      'anexNodes',
      'forwarder',
      'forwarderSpec',
    ]);
    expect(spec.variables[0]).toEqual({ name: 'anexNodes', expression: "['anex-vastai', 'anex-runpod']" });
    expect(spec.validations.map((v) => v.message)).toEqual([
      admissionPolicyMessage(names),
      forwarderPolicyMessage('anex-system'),
      admissionPolicyMessage(names),
      admissionPolicyMessage(names),
    ]);
    expect(find(objects, 'ValidatingAdmissionPolicyBinding').spec).toEqual({
      policyName: 'anex-service-accounts',
      validationActions: ['Deny'],
    });
  });

  it('asks Kubernetes for a ServiceAccount token Secret (for the Lambda kubeconfig)', () => {
    expect(find(objects, 'Secret')).toMatchObject({
      type: 'kubernetes.io/service-account-token',
      metadata: { namespace: 'anex-system', annotations: { 'kubernetes.io/service-account.name': 'anex' } },
    });
    expect(find(objects, 'Secret')).not.toHaveProperty('data');
  });

  it('puts namespaced objects in --namespace', () => {
    const { objects: custom } = buildManifests(someOptions({ namespace: 'gpu-burst' }));
    expect(find(custom, 'Namespace').metadata.name).toBe('gpu-burst');
    expect(find(custom, 'ServiceAccount').metadata.namespace).toBe('gpu-burst');
    expect(find(custom, 'Secret').metadata.namespace).toBe('gpu-burst');
    expect(webhooks(custom)[0]?.namespaceSelector.matchExpressions[0]?.values).toContain('gpu-burst');
  });

  it('versions every object', () => {
    for (const object of objects) {
      expect(object.metadata.labels).toMatchObject({
        'app.kubernetes.io/version': '1.2.3',
        'app.kubernetes.io/part-of': 'anex',
      });
    }
  });
});

describe('buildManifests: admission webhook', () => {
  const { objects } = buildManifests(someOptions());

  it('never blocks the cluster: failurePolicy Ignore and a short timeout on every webhook', () => {
    for (const webhook of webhooks(objects)) {
      expect(webhook.failurePolicy).toBe('Ignore');
      expect(webhook.timeoutSeconds).toBeLessThanOrEqual(5);
      expect(webhook.clientConfig).toEqual({ url: WEBHOOK_URL });
    }
  });

  it.each([
    [
      WEBHOOK_NAMES.validate,
      [
        [['CREATE', 'UPDATE'], 'pods'],
        // kubectl debug on an anex pod is refused with a reason
        [['UPDATE'], 'pods/ephemeralcontainers'],
      ],
      'None',
      /nodeSelector\['node-provider'\] in \['vastai', 'runpod'\]/,
    ],
    [
      WEBHOOK_NAMES.bindings,
      [[['CREATE'], 'pods/binding']],
      'NoneOnDryRun',
      /object\.target\.name in \['anex-vastai', 'anex-runpod'\]/,
    ],
    [
      WEBHOOK_NAMES.deletions,
      [[['DELETE'], 'pods']],
      'NoneOnDryRun',
      /oldObject\.spec\.nodeName in \['anex-vastai', 'anex-runpod'\]/,
    ],
  ])('%s: %j, sideEffects %s, only for anex pods', (name, rules, sideEffects, condition) => {
    const webhook = webhooks(objects).find((w) => w.name === name);
    expect(webhook?.rules).toEqual(
      (rules as [string[], string][]).map(([operations, resource]) => ({
        apiGroups: [''],
        apiVersions: ['v1'],
        operations,
        resources: [resource],
        scope: 'Namespaced',
      })),
    );
    expect(webhook?.sideEffects).toBe(sideEffects);
    expect(webhook?.matchConditions[0]?.expression).toMatch(condition);
  });

  it('skips the control plane’s namespaces and anex’s own', () => {
    for (const webhook of webhooks(objects)) {
      expect(webhook.namespaceSelector.matchExpressions).toEqual([
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', 'kube-node-lease', 'anex-system'],
        },
      ]);
    }
  });

  it('is left out, with a note, when no webhook URL is given', () => {
    const { webhookUrl: _ignored, ...withoutUrl } = someOptions();
    const set = buildManifests(withoutUrl);
    expect(set.objects.map((o) => o.kind)).not.toContain('ValidatingWebhookConfiguration');
    expect(set.objects.map((o) => o.kind)).not.toContain('MutatingWebhookConfiguration');
    expect(set.notes.join('\n')).toMatch(/no --webhook-url.*no outage tolerations/);
  });
});

describe('buildManifests: mutating webhook (outage tolerations)', () => {
  const { objects } = buildManifests(someOptions());
  const mutating = () =>
    find(objects, 'MutatingWebhookConfiguration').webhooks as (Webhook & { reinvocationPolicy: string })[];

  it('is one webhook on pod CREATE, on the same function at /mutate/<token>', () => {
    expect(mutating().map((w) => w.name)).toEqual([WEBHOOK_NAMES.tolerations]);
    const [webhook] = mutating();
    expect(webhook?.clientConfig).toEqual({
      url: 'https://abc123.lambda-url.eu-west-1.on.aws/mutate/Zx9TokenTokenToken0123',
    });
    expect(webhook?.rules).toEqual([
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ]);
  });

  it('fails closed, but only for pods selecting an anex node (the rest of the cluster never waits on anex)', () => {
    const [webhook] = mutating();
    expect(webhook?.failurePolicy).toBe('Fail');
    expect(webhook?.sideEffects).toBe('None');
    expect(webhook?.reinvocationPolicy).toBe('IfNeeded');
    expect(webhook?.timeoutSeconds).toBeLessThanOrEqual(5);
    expect(webhook?.matchConditions).toHaveLength(1);
    expect(webhook?.matchConditions[0]?.expression).toMatch(
      /^has\(object\.spec\.nodeSelector\) && .*nodeSelector\['node-provider'\] in \['vastai', 'runpod'\]$/,
    );
    // The validating webhook also sees pods already on an anex node (kubectl debug, K5).
    const validate = webhooks(objects).find((w) => w.name === WEBHOOK_NAMES.validate) as Webhook;
    expect(validate.matchConditions.map((c) => c.expression)).toEqual([
      `(${webhook?.matchConditions[0]?.expression}) || (has(object.spec.nodeName) && object.spec.nodeName in ['anex-vastai', 'anex-runpod'])`,
    ]);
  });

  it.each([
    ['https://x.lambda-url.eu-west-1.on.aws/admit/tok', 'https://x.lambda-url.eu-west-1.on.aws/mutate/tok'],
    ['https://127.0.0.1:8443/admit/tok', 'https://127.0.0.1:8443/mutate/tok'],
  ])('mutatingWebhookUrl(%s) = %s', (url, expected) => {
    expect(mutatingWebhookUrl(url)).toBe(expected);
  });
});

describe('buildManifests: gateway', () => {
  const withGateway = buildManifests({
    ...someOptions({ agentUrl: 'https://agent.lambda-url.eu-west-1.on.aws/' }),
    gateway: { image: 'ghcr.io/example/anex-gateway:1.2.3', vpnRange: '10.99.0.0/16' },
  });

  it('adds lib/tunnel/gateway’s objects in --namespace after the webhook', () => {
    const kinds = withGateway.objects.map((o) => o.kind);
    const before = buildManifests(someOptions()).objects.length;
    expect(kinds.slice(0, before)).toEqual(buildManifests(someOptions()).objects.map((o) => o.kind));
    expect(kinds.slice(before)).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment', 'Service']));
    // Cluster-scoped RBAC has no namespace; the client-CA reader binding lives in kube-system.
    for (const object of withGateway.objects.slice(before)) {
      const where = object.kind.startsWith('Cluster')
        ? undefined
        : object.kind === 'RoleBinding'
          ? 'kube-system'
          : 'anex-system';
      expect([object.kind, object.metadata.namespace]).toEqual([object.kind, where]);
    }
  });

  it("serves the kubelet API for --node-names' nodes from the gateway pod (ADR 0023)", () => {
    const objects = buildManifests({
      ...someOptions({
        agentUrl: 'https://agent.lambda-url.eu-west-1.on.aws/',
        nodeNames: ['gpu-a', 'gpu-b'],
      }),
      gateway: { image: 'ghcr.io/example/anex-gateway:1.2.3', vpnRange: '10.99.0.0/16' },
    }).objects;
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { name: string; args?: string[] }[] } } };
    };
    const kubelet = deployment.spec.template.spec.containers.find((c) => c.name === 'kubelet');
    expect(kubelet?.args).toContain('--node-names=gpu-a,gpu-b');
  });

  it('versions the gateway objects but never their selectors (immutable on upgrade)', () => {
    const deployment = find(withGateway.objects, 'Deployment') as KubeObject & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(deployment.metadata.labels['app.kubernetes.io/version']).toBe('1.2.3');
    expect(deployment.metadata.labels['app.kubernetes.io/name']).toBe('anex-gateway');
    expect(deployment.spec.selector.matchLabels).not.toHaveProperty('app.kubernetes.io/version');
  });

  it('gives the gateway its allow-list', () => {
    const limited = buildManifests({
      ...someOptions({ agentUrl: 'https://agent.lambda-url.eu-west-1.on.aws/' }),
      gateway: { image: 'g:1', vpnRange: '10.99.0.0/16', allowedCidrs: ['10.96.0.0/12', '10.244.0.0/16'] },
    });
    const json = JSON.stringify(find(limited.objects, 'Deployment'));
    expect(json).toContain('{"name":"ANEX_ALLOWED_CIDRS","value":"10.96.0.0/12,10.244.0.0/16"}');
    expect(JSON.stringify(find(withGateway.objects, 'Deployment'))).not.toContain('ANEX_ALLOWED_CIDRS');
  });

  it.each([
    [{ agentUrl: 'https://agent.example/' }, /no --gateway-image/],
    [{ gateway: { image: 'g:1', vpnRange: '10.99.0.0/16' } }, /no --agent-url/],
  ])('is left out, with a note, given only %j', (extra, note) => {
    const set = buildManifests({ ...someOptions(), ...extra });
    expect(set.objects.map((o) => o.kind)).not.toContain('Deployment');
    expect(set.notes.join('\n')).toMatch(note);
  });
});

describe('formatManifests', () => {
  const { objects } = buildManifests(someOptions());

  it('prints multi-document YAML that parses back to the same objects, without YAML aliases', () => {
    const yaml = formatManifests(objects, 'yaml');
    const documents = parseAllDocuments(yaml).map((d) => d.toJS() as unknown);
    expect(documents).toEqual(objects);
    expect(yaml).not.toMatch(/^\s*[\w-]+: [&*]\w/m);
  });

  it('prints a v1 List in JSON', () => {
    expect(JSON.parse(formatManifests(objects, 'json'))).toEqual({
      apiVersion: 'v1',
      kind: 'List',
      items: objects,
    });
  });

  it('orders objects so that kubectl apply can create them in one go', () => {
    expect(objects.map((o) => o.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'Secret',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
      'Secret',
      'ClusterRole',
      'ClusterRoleBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
    ]);
  });
});

describe('rbacManifests: env sources', () => {
  it('a get-only Role and its binding in each namespace named, nothing cluster-wide', () => {
    const objects = rbacManifests({
      version: '1.0.0',
      namespace: 'anex-system',
      nodeNames: ['anex-vastai'],
      envNamespaces: ['ml', 'research'],
    });
    const roles = objects.filter((o) => o.metadata.name === 'anex-env-sources');
    expect(roles.map((o) => `${o.kind}/${o.metadata.namespace}`)).toEqual([
      'Role/ml',
      'RoleBinding/ml',
      'Role/research',
      'RoleBinding/research',
    ]);
    expect((roles[0] as unknown as { rules: unknown }).rules).toEqual([
      { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'] },
    ]);
    const clusterRole = objects.find((o) => o.kind === 'ClusterRole') as unknown as {
      rules: { resources: string[] }[];
    };
    expect(clusterRole.rules.flatMap((r) => r.resources)).not.toContain('secrets');
  });
});
