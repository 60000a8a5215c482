import type { PodEvent, PodView } from './cluster.ts';
import { outageEvictionRisks } from './outage-tolerations.ts';

/**
 * What the reconciler tells the user about a pod on a virtual node that anex cannot fix by
 * itself — as Events, never as a reason not to rent. Pure.
 *
 * Wiring (the pass, once per pod when it first handles it, e.g. with the bound-pod pass):
 *   const advice = podAdvisories(pod);
 *   for (const event of advice.events) await cluster.recordEvent(pod, event, { now });
 *   if (advice.neverRent) → no machine, no InvalidAnnotations status (leave the pod Pending)
 * Events are deduplicated by reason and message (a repeat bumps the count), so recording them
 * on every full pass is harmless but noisy: once per pod (first sight) is enough.
 */
export interface PodAdvisories {
  events: PodEvent[];
  /** a pod anex must never rent a machine for, whatever its spec says (a DaemonSet's) */
  neverRent: boolean;
}

export const DAEMONSET_AFFINITY_HINT =
  'add to the DaemonSet: affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[].matchExpressions: [{key: type, operator: NotIn, values: [virtual-kubelet]}]';

/** Whether the pod belongs to a DaemonSet (its controlling owner). */
export function isDaemonSetPod(pod: Pick<PodView, 'controllerKind'>): boolean {
  return pod.controllerKind === 'DaemonSet';
}

/**
 * A pod whose tolerations let an anex outage evict it: it was created before the mutating
 * webhook existed, in a namespace the webhook skips, or with the webhook bypassed. Warning only:
 * the pod still runs — it is merely at risk if anex is away for longer than its tolerationSeconds.
 */
export function outageEvictionWarning(pod: Pick<PodView, 'tolerations'>): PodEvent | undefined {
  const risks = outageEvictionRisks(pod.tolerations);
  if (risks.length === 0) return undefined;
  return {
    type: 'Warning',
    reason: 'OutageEvictionRisk',
    message: `an anex outage would evict this pod (${risks.join('; ')}): recreate it with tolerations of node.kubernetes.io/unreachable and node.kubernetes.io/not-ready, operator Exists, effect NoExecute, no tolerationSeconds (the anex webhook adds them to new pods)`,
  };
}

/**
 * The advice for one pod on a virtual node. A DaemonSet's pod (a DaemonSet tolerating every
 * taint lands one on each node, kube audit N4/W4) gets one Warning naming the node affinity that
 * keeps the DaemonSet off virtual nodes, and is never rented for (ADR 0013); it is not checked
 * for outage tolerations (the DaemonSet controller gives its pods permanent ones).
 */
export function podAdvisories(
  pod: Pick<PodView, 'tolerations' | 'controllerKind' | 'skippedVolumes'>,
): PodAdvisories {
  if (isDaemonSetPod(pod)) {
    return {
      neverRent: true,
      events: [
        {
          type: 'Warning',
          reason: 'DaemonSetPodNotRun',
          message: `anex runs no DaemonSet pods: this one stays Pending and keeps the DaemonSet from becoming available (kubectl rollout status waits); ${DAEMONSET_AFFINITY_HINT}`,
        },
      ],
    };
  }
  const warning = outageEvictionWarning(pod);
  const token = serviceAccountTokenNotice(pod);
  return {
    neverRent: false,
    events: [...(warning === undefined ? [] : [warning]), ...(token === undefined ? [] : [token])],
  };
}

/**
 * The service-account volume the API server adds is not given to the rented machine (the host
 * is untrusted and cannot reach the API server): said once, so nobody wonders where the token is.
 */
export function serviceAccountTokenNotice(pod: Pick<PodView, 'skippedVolumes'>): PodEvent | undefined {
  const skipped = pod.skippedVolumes ?? [];
  if (skipped.length === 0) return undefined;
  return {
    type: 'Normal',
    reason: 'ServiceAccountTokenNotMounted',
    message: `volume ${skipped.join(', ')} (the service-account token, CA and namespace) is not given to the rented machine: the host is untrusted and cannot reach the Kubernetes API; set automountServiceAccountToken: false to say so in the spec`,
  };
}
