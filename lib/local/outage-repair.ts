import { CoreV1Api, type KubeConfig, PatchStrategy } from '@kubernetes/client-node';
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
  return {
    async repair({ namespace, name }) {
      const action = `make the outage tolerations of pod ${namespace}/${name} permanent`;
      for (let attempt = 1; ; attempt++) {
        let pod: Awaited<ReturnType<CoreV1Api['readNamespacedPod']>>;
        try {
          pod = await core.readNamespacedPod({ namespace, name }, plain);
        } catch (error) {
          if (statusCode(error) === 404) return 'gone';
          throw translateKubeError(error, action);
        }
        const selected = pod.spec?.nodeSelector?.[options.nodeSelectorKey];
        if (selected === undefined || !options.nodeSelectorValues.includes(selected)) return 'not-anex';
        const result = withOutageTolerations(pod.spec?.tolerations as Toleration[] | undefined);
        if (!result.changed) return 'unchanged';
        const body = {
          metadata: { resourceVersion: pod.metadata?.resourceVersion },
          spec: { tolerations: result.tolerations },
        };
        try {
          await core.patchNamespacedPod({ namespace, name, body, fieldManager: 'anex' }, merge);
          return 'patched';
        } catch (error) {
          const code = statusCode(error);
          if (code === 404) return 'gone';
          if (code !== 409 || attempt >= 2) throw translateKubeError(error, action);
        }
      }
    },
  };
}
