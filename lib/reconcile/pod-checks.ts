import type { PodView } from '../kube/cluster.ts';
import type { ProviderName } from '../offers/offer.ts';

/**
 * What anex cannot honour in a pod's spec, worded for the user — reported like invalid
 * annotations rather than silently dropped. A pod that did not ask for the node by
 * nodeSelector (a DaemonSet tolerating every taint) is never given a machine: renting a GPU
 * for it would only cost money.
 */
export function podSpecIssues(
  pod: PodView,
  provider: ProviderName,
  options: { agent?: boolean } = {},
): string[] {
  const issues: string[] = [];
  const selected = pod.nodeSelector['node-provider'];
  if (selected !== provider) {
    issues.push(
      `spec.nodeSelector: "node-provider" is ${selected === undefined ? 'not set' : `"${selected}"`}; a pod on this node must select node-provider: "${provider}" to be given a machine`,
    );
  }
  if (pod.containers.length !== 1) {
    const names = pod.containers.map((c) => c.name).join(', ');
    issues.push(
      `spec.containers: anex runs exactly one container per pod; found ${pod.containers.length}${names ? ` (${names})` : ''}`,
    );
  }
  for (const container of pod.containers) {
    issues.push(...(container.envIssues ?? []));
    if (container.envSpec !== undefined && options.agent !== true) {
      issues.push(
        `containers[${container.name}]: env valueFrom and envFrom are handed to the container by the anex agent at bootstrap, and this reconciler launches without it (anex run against real providers needs --agent-endpoint-url for them); set plain values`,
      );
    }
    issues.push(...(container.lifecycleIssues ?? []));
  }
  return issues;
}
