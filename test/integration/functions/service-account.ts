import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { MANIFEST_DEFAULTS } from '../../../lib/manifests/common.ts';
import { AGENT_SERVICE_ACCOUNT } from '../../../lib/manifests/rbac.ts';
import { buildManifests } from '../../../lib/manifests/render.ts';

/** The anex ServiceAccount of `anex manifests`, applied to the run's API server, and its token. */
export interface AnexServiceAccount {
  namespace: string;
  /** a kubeconfig (YAML) that authenticates with the ServiceAccount token only — docs/deploy.md step 4 */
  kubeconfigYaml: string;
  /** the token itself, so tests can check it never reaches a log */
  token: string;
  /** the same for the agent endpoint's own ServiceAccount (anex-agent, ADR 0022) */
  agent: { kubeconfigYaml: string; token: string };
  /** removes every object applied (cluster-scoped ones included) */
  remove(): Promise<void>;
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  await call.catch((error: { code?: number }) => {
    if (error.code !== 404) throw error;
  });
}

/**
 * Applies the RBAC objects `anex manifests` prints (namespace, both ServiceAccounts, their
 * roles and bindings, the admission policy — not the webhooks) and mints a token for each
 * ServiceAccount with the TokenRequest API. The ClusterRole's name is fixed by the manifests:
 * leftovers of an interrupted run are cleared first (test files run one at a time).
 */
export async function applyAnexServiceAccount(
  admin: KubeConfig,
  options: { nodeNames: string[] },
): Promise<AnexServiceAccount> {
  const namespace = `anex-fn-${randomBytes(3).toString('hex')}`;
  const { objects } = buildManifests({
    version: '0.0.0-test',
    namespace,
    nodeNames: options.nodeNames,
    webhookUrl: `https://127.0.0.1:9/admit/${'t'.repeat(32)}`,
  });
  const rbac = objects.filter(
    (o) => o.kind !== 'ValidatingWebhookConfiguration' && o.kind !== 'MutatingWebhookConfiguration',
  ) as KubernetesObject[];
  const api = KubernetesObjectApi.makeApiClient(admin);
  for (const object of [...rbac].reverse()) {
    if (object.kind !== 'Namespace') await ignoreNotFound(api.delete(object));
  }
  for (const object of rbac) await api.create(object);
  const remove = async () => {
    for (const object of [...rbac].reverse()) await ignoreNotFound(api.delete(object));
  };
  const tokenOf = async (name: string) => {
    const request = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const token = request.status?.token;
    if (token === undefined || token === '') throw new Error('the TokenRequest API returned no token');
    return token;
  };
  const token = await tokenOf(MANIFEST_DEFAULTS.serviceAccount);
  const agentToken = await tokenOf(AGENT_SERVICE_ACCOUNT);
  return {
    namespace,
    kubeconfigYaml: tokenKubeconfig(admin, token),
    token,
    agent: { kubeconfigYaml: tokenKubeconfig(admin, agentToken), token: agentToken },
    remove,
  };
}

/** The kubeconfig of docs/deploy.md step 4: the admin's server and CA, the ServiceAccount's token. */
function tokenKubeconfig(admin: KubeConfig, token: string): string {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('the admin kubeconfig has no current cluster');
  const caData = cluster.caData ?? '';
  if (caData === '') throw new Error('the admin kubeconfig has no inline CA (certificate-authority-data)');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'cluster', cluster: { server: cluster.server, 'certificate-authority-data': caData } },
    ],
    users: [{ name: 'anex', user: { token } }],
    contexts: [{ name: 'anex', context: { cluster: 'cluster', user: 'anex' } }],
    'current-context': 'anex',
  });
}
