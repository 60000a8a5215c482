import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { AnexError } from '../errors.ts';
import { apiMessage, statusCode, translateKubeError } from '../kube/errors.ts';
import { requestOptions } from '../kube/request-options.ts';

/**
 * The few pod calls the agent mode makes in the stack's cluster. An interface, so the run is
 * written against what it needs; {@link kubePods} is the real one (the e2e test drives it
 * against a real API server).
 */
export interface SelftestPods {
  /** @throws PodRefused when the API server (or an admission webhook) refuses the pod */
  create(namespace: string, pod: V1Pod): Promise<V1Pod>;
  /** undefined once the pod no longer exists */
  get(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** `gracePeriodSeconds: 0` removes the object at once (when the stack does not finalize it) */
  delete(
    namespace: string,
    name: string,
    options?: { gracePeriodSeconds?: number },
  ): Promise<'deleted' | 'gone'>;
  list(namespace: string, labelSelector: string): Promise<V1Pod[]>;
}

/** The API server's refusal of the pod: its own message, for the `create` step. */
export class PodRefused extends Error {}

const TIMEOUT_MS = 20_000;

export function kubePods(kubeConfig: KubeConfig): SelftestPods {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const plain = requestOptions(TIMEOUT_MS);
  return {
    async create(namespace, pod) {
      try {
        return await core.createNamespacedPod({ namespace, body: pod }, plain);
      } catch (error) {
        const code = statusCode(error);
        // 4xx but auth and throttling: the API server or a webhook said no to this pod.
        if (code !== undefined && code >= 400 && code < 500 && ![401, 403, 429].includes(code))
          throw new PodRefused(`the API server refused the pod (HTTP ${code}): ${apiMessage(error)}`);
        throw translateKubeError(error, `create pod ${namespace}/${pod.metadata?.name ?? ''}`);
      }
    },
    async get(namespace, name) {
      try {
        return await core.readNamespacedPod({ namespace, name }, plain);
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw translateKubeError(error, `read pod ${namespace}/${name}`);
      }
    },
    async delete(namespace, name, options = {}) {
      try {
        await core.deleteNamespacedPod(
          {
            namespace,
            name,
            ...(options.gracePeriodSeconds === undefined
              ? {}
              : { gracePeriodSeconds: options.gracePeriodSeconds }),
          },
          plain,
        );
        return 'deleted';
      } catch (error) {
        if (statusCode(error) === 404) return 'gone';
        throw translateKubeError(error, `delete pod ${namespace}/${name}`);
      }
    },
    async list(namespace, labelSelector) {
      try {
        return (await core.listNamespacedPod({ namespace, labelSelector }, plain)).items;
      } catch (error) {
        throw translateKubeError(error, `list pods ${labelSelector} in ${namespace}`);
      }
    },
  };
}

/** The pod's UID, which the API server always sets on what it returns. */
export function uidOf(pod: V1Pod): string {
  const uid = pod.metadata?.uid;
  if (uid === undefined)
    throw new AnexError('the API server returned a pod without a UID', { kind: 'bad-response' });
  return uid;
}
