import { CoreV1Api, type KubeConfig, PatchStrategy, type V1Pod } from '@kubernetes/client-node';
import { AnexError } from '../errors.ts';
import { statusCode, translateKubeError } from '../kube/errors.ts';
import { type Toleration, withOutageTolerations } from '../kube/outage-tolerations.ts';
import { requestOptions } from '../kube/request-options.ts';

/** What one repair did. */
export type RepairOutcome = 'patched' | 'unchanged' | 'not-anex' | 'gone';

/** Makes an anex pod's outage tolerations permanent (local mode; ADR 0012). */
export interface OutageRepair {
  repair(pod: { namespace: string; name: string }): Promise<RepairOutcome>;
}

export interface OutageRepairOptions {
  kubeConfig: KubeConfig;
  /** nodeSelector key and values that make a pod an anex pod (as the webhook's) */
  nodeSelectorKey: string;
  nodeSelectorValues: readonly string[];
  /** @default 10_000 */
  requestTimeoutMs?: number;
}

/**
 * Local mode's replacement for the mutating webhook: `anex run` may drive any cluster (kind,
 * minikube, a remote one) whose API server cannot call a webhook on this host, so the pod is
 * fixed after the fact instead — as soon as the pod watch sees it bound. A pod update may
 * change an existing toleration's tolerationSeconds and add tolerations (the API server's
 * validateOnlyAddedTolerations), which is exactly what withOutageTolerations produces, and the
 * taint manager re-reads tolerations on every pod update, cancelling a pending eviction.
 *
 * One read and at most one merge patch, guarded by the resourceVersion read (a concurrent
 * writer → 409 → read again, once more). Errors throw an AnexError (lib/kube/errors.ts).
 */
export function outageRepair(options: OutageRepairOptions): OutageRepair {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const plain = requestOptions(timeoutMs);
  const merge = requestOptions(timeoutMs, PatchStrategy.MergePatch);
  const isAnex = (pod: V1Pod) => {
    const selected = pod.spec?.nodeSelector?.[options.nodeSelectorKey];
    return selected !== undefined && options.nodeSelectorValues.includes(selected);
  };

  /** One read and at most one patch; 'conflict' when the pod changed in between. */
  const attempt = async (
    namespace: string,
    name: string,
    action: string,
  ): Promise<RepairOutcome | 'conflict'> => {
    const pod = await core.readNamespacedPod({ namespace, name }, plain).catch((error: unknown) => {
      if (statusCode(error) === 404) return undefined;
      throw translateKubeError(error, action);
    });
    if (pod === undefined) return 'gone';
    if (!isAnex(pod)) return 'not-anex';
    const result = withOutageTolerations(pod.spec?.tolerations as Toleration[] | undefined);
    if (!result.changed) return 'unchanged';
    const body = {
      metadata: { resourceVersion: pod.metadata?.resourceVersion },
      spec: { tolerations: result.tolerations },
    };
    return core.patchNamespacedPod({ namespace, name, body, fieldManager: 'anex' }, merge).then(
      () => 'patched' as const,
      (error: unknown) => {
        const code = statusCode(error);
        if (code === 404) return 'gone' as const;
        if (code === 409) return 'conflict' as const;
        throw translateKubeError(error, action);
      },
    );
  };

  return {
    async repair({ namespace, name }) {
      const action = `make the outage tolerations of pod ${namespace}/${name} permanent`;
      const first = await attempt(namespace, name, action);
      const outcome = first === 'conflict' ? await attempt(namespace, name, action) : first;
      if (outcome === 'conflict') {
        throw new AnexError(`Kubernetes API: ${action}: the pod changed twice while being patched`, {
          kind: 'conflict',
          retryable: true,
        });
      }
      return outcome;
    },
  };
}
