/**
 * What every manifest `anex manifests` prints has in common: the options, the labels that
 * version it, and a minimal object type (the YAML is built from plain objects, so no
 * client-library model classes are needed).
 */
export interface ManifestOptions {
  /** anex's version; stamped as app.kubernetes.io/version on every object */
  version: string;
  /** where the ServiceAccount, its token and the gateway live */
  namespace: string;
  /** the virtual nodes' names (the webhook only looks at pods bound to these) */
  nodeNames: readonly string[];
  /** the admission Function URL including its token path; no webhook is emitted when unset */
  webhookUrl?: string;
  /** the agent endpoint (Function URL) the gateway and agents talk to */
  agentUrl?: string;
  /**
   * Namespaces whose Secrets and ConfigMaps anex may read for pods' env (a Role there, not
   * cluster-wide); elsewhere a pod's env from a Secret is refused with the reason.
   */
  envNamespaces?: readonly string[];
  /**
   * The namespaces that may rent (the reconciler's ANEX_RENT_NAMESPACES, ADR 0019): the
   * webhooks then look only at those; `'*'` or unset: every namespace but the excluded ones.
   */
  rentNamespaces?: readonly string[] | '*';
  /**
   * The functions authenticate with IAM (EKS access entries, docs/deploy.md): no long-lived
   * ServiceAccount token Secret is printed. @default false
   */
  iamAuth?: boolean;
}

export const MANIFEST_DEFAULTS = {
  namespace: 'anex-system',
  serviceAccount: 'anex',
  /** the ServiceAccount token Secret a kubeconfig for Lambda is made from */
  tokenSecret: 'anex-token',
  nodeNames: ['anex-vastai', 'anex-runpod'],
  /** the providers' node selector values (DESIGN §4) */
  nodeSelectorKey: 'node-provider',
  nodeSelectorValues: ['vastai', 'runpod'],
  webhookTimeoutSeconds: 5,
} as const;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Labels that let `kubectl get -l app.kubernetes.io/part-of=anex` find (and prune) everything. */
export function commonLabels(
  options: Pick<ManifestOptions, 'version'>,
  component: string,
): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'anex',
    'app.kubernetes.io/part-of': 'anex',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/version': options.version,
    'app.kubernetes.io/managed-by': 'anex-manifests',
  };
}
