import { commonLabels, type KubeObject, MANIFEST_DEFAULTS, type ManifestOptions } from './common.ts';

/**
 * The admission webhooks (functions/admission.ts behind a Lambda Function URL).
 *
 * Authentication: a Function URL without IAM auth is public, and the API server cannot sign
 * SigV4. So the URL's path carries a secret — `/admit/<webhookToken>`, the token generated
 * into the stack's secret — and the handler rejects any other path. Only cluster admins can
 * read a webhook configuration, and the token travels inside TLS. The Function URL's
 * certificate is from a public CA, so no caBundle is needed (the API server's system roots).
 *
 * Three validating webhooks on `/admit/<webhookToken>`, each narrowed by CEL matchConditions so the API server only calls
 * out for pods that concern anex (everything else is admitted without a round trip):
 * - validate: pod CREATE/UPDATE selecting an anex node → reject invalid `anex.sh/*` annotations
 * - bindings: pods/binding CREATE to an anex node → enqueue a per-pod pass (the scheduler
 *   binds through this subresource; its object is a Binding whose `target.name` is the node)
 * - deletions: pod DELETE of a pod on an anex node → enqueue a pass (destroy the instance)
 * All three use failurePolicy Ignore: if the webhook is down, pods are admitted and the minute
 * tick catches up — anex never blocks the cluster.
 *
 * One mutating webhook on the same function, at `/mutate/<webhookToken>`:
 * - tolerations: pod CREATE selecting an anex node → the outage tolerations (ADR 0012). The
 *   same matchCondition as `validate`, so no other pod of the cluster ever waits on anex;
 *   failurePolicy Fail for those pods (the reason is at the webhook below).
 */
export const WEBHOOK_PATH_PREFIX = '/admit/';
export const MUTATE_PATH_PREFIX = '/mutate/';

export const WEBHOOK_NAMES = {
  validate: 'validate.pods.anex.sh',
  bindings: 'bindings.pods.anex.sh',
  deletions: 'deletions.pods.anex.sh',
  tolerations: 'tolerations.pods.anex.sh',
} as const;

/** The mutating webhook's URL: the validating one's with `/mutate/` for `/admit/` (same token). */
export function mutatingWebhookUrl(webhookUrl: string): string {
  const url = new URL(webhookUrl);
  url.pathname = url.pathname.replace(/^\/admit\//, MUTATE_PATH_PREFIX);
  return url.toString();
}

/** Namespaces never sent to the webhook: the control plane's own and anex's. */
export function excludedNamespaces(options: Pick<ManifestOptions, 'namespace'>): string[] {
  return ['kube-system', 'kube-node-lease', options.namespace];
}

function celList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replaceAll("'", "\\'")}'`).join(', ')}]`;
}

/**
 * The webhooks' namespaceSelector: never the control plane's or anex's own namespaces and,
 * when the operator lists the namespaces that may rent (ANEX_RENT_NAMESPACES, ADR 0019), only
 * those — the reconciler refuses the others anyway; the API server then does not call out for
 * them. `kubernetes.io/metadata.name` is the label the API server sets on every namespace.
 */
export function webhookNamespaceSelector(
  options: Pick<ManifestOptions, 'namespace'> & { rentNamespaces?: readonly string[] | '*' },
) {
  const key = 'kubernetes.io/metadata.name';
  const rent = options.rentNamespaces;
  return {
    matchExpressions: [
      { key, operator: 'NotIn', values: excludedNamespaces(options) },
      ...(rent === undefined || rent === '*' ? [] : [{ key, operator: 'In', values: [...rent] }]),
    ],
  };
}

export function webhookManifests(options: ManifestOptions & { webhookUrl: string }): KubeObject[] {
  const common = {
    admissionReviewVersions: ['v1'],
    clientConfig: { url: options.webhookUrl },
    failurePolicy: 'Ignore',
    matchPolicy: 'Equivalent',
    timeoutSeconds: MANIFEST_DEFAULTS.webhookTimeoutSeconds,
    namespaceSelector: webhookNamespaceSelector(options),
  };
  const podRule = (operations: string[], resource: string) => ({
    apiGroups: [''],
    apiVersions: ['v1'],
    operations,
    resources: [resource],
    scope: 'Namespaced',
  });
  const key = MANIFEST_DEFAULTS.nodeSelectorKey;
  const nodes = celList(options.nodeNames);
  const selectsAnAnexNode = {
    name: 'selects-an-anex-node',
    expression:
      `has(object.spec.nodeSelector) && '${key}' in object.spec.nodeSelector && ` +
      `object.spec.nodeSelector['${key}'] in ${celList(MANIFEST_DEFAULTS.nodeSelectorValues)}`,
  };
  // `kubectl debug` is refused on a pod already on an anex node too, whatever its selector (K5).
  const selectsOrRunsOnAnAnexNode = {
    name: 'selects-or-runs-on-an-anex-node',
    expression: `(${selectsAnAnexNode.expression}) || (has(object.spec.nodeName) && object.spec.nodeName in ${nodes})`,
  };
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'anex', labels: commonLabels(options, 'admission') },
      webhooks: [
        {
          name: WEBHOOK_NAMES.validate,
          ...common,
          sideEffects: 'None',
          // pods/ephemeralcontainers: `kubectl debug` on an anex pod is refused with a reason.
          rules: [podRule(['CREATE', 'UPDATE'], 'pods'), podRule(['UPDATE'], 'pods/ephemeralcontainers')],
          matchConditions: [selectsOrRunsOnAnAnexNode],
        },
        {
          name: WEBHOOK_NAMES.bindings,
          ...common,
          // It enqueues a pass, so it has side effects; on a dry run it enqueues nothing.
          sideEffects: 'NoneOnDryRun',
          rules: [podRule(['CREATE'], 'pods/binding')],
          matchConditions: [{ name: 'binds-to-an-anex-node', expression: `object.target.name in ${nodes}` }],
        },
        {
          name: WEBHOOK_NAMES.deletions,
          ...common,
          sideEffects: 'NoneOnDryRun',
          rules: [podRule(['DELETE'], 'pods')],
          matchConditions: [
            {
              name: 'runs-on-an-anex-node',
              expression: `has(oldObject.spec.nodeName) && oldObject.spec.nodeName in ${nodes}`,
            },
          ],
        },
      ],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'anex', labels: commonLabels(options, 'admission') },
      webhooks: [
        {
          name: WEBHOOK_NAMES.tolerations,
          ...common,
          clientConfig: { url: mutatingWebhookUrl(options.webhookUrl) },
          // Fail, for anex pods only (the matchCondition): a pod admitted without the outage
          // tolerations is evicted by the first anex outage longer than 5 minutes, and on AWS
          // nothing adds them in time — the tick that could patch them is exactly what an
          // outage stops. Refusing the create costs nothing real: without anex such a pod
          // cannot run anyway, and its controller retries the create.
          failurePolicy: 'Fail',
          sideEffects: 'None',
          // Another webhook adding tolerations after us could bring back tolerationSeconds.
          reinvocationPolicy: 'IfNeeded',
          rules: [podRule(['CREATE'], 'pods')],
          matchConditions: [selectsAnAnexNode],
        },
      ],
    },
  ];
}
