import type { PodView } from '../kube/cluster.ts';
import type { ProviderName } from '../offers/offer.ts';

/**
 * What anex cannot honour in a pod's spec, worded for the user — reported (UnsupportedPodSpec)
 * rather than silently dropped. A pod that did not ask for the node by
 * nodeSelector (a DaemonSet tolerating every taint) is never given a machine: renting a GPU
 * for it would only cost money.
 */
export function podSpecIssues(
  pod: PodView,
  provider: ProviderName,
  options: { agent?: boolean } = {},
): string[] {
  return [...selectionIssues(pod, provider), ...unsupportedIssues(pod, options)];
}

/** The node-selection issue: a pod that did not ask for this provider's node. */
export function selectionIssues(pod: PodView, provider: ProviderName): string[] {
  const selected = pod.nodeSelector['node-provider'];
  if (selected === provider) return [];
  return [
    `spec.nodeSelector: "node-provider" is ${selected === undefined ? 'not set' : `"${selected}"`}; a pod on this node must select node-provider: "${provider}" to be given a machine`,
  ];
}

/**
 * What a rented machine cannot honour in this pod (reason UnsupportedPodSpec): the spec's
 * refusals (lib/kube/pod-spec-support.ts, the webhook's too) and what only the anex agent can
 * give — env from Secrets, files, init containers — when this reconciler launches without it.
 */
export function unsupportedIssues(pod: PodView, options: { agent?: boolean } = {}): string[] {
  const issues: string[] = [...(pod.specIssues ?? [])];
  if (pod.specIssues === undefined && pod.containers.length !== 1) {
    const names = pod.containers.map((c) => c.name).join(', ');
    issues.push(
      `spec.containers: anex runs exactly one container per pod; found ${pod.containers.length}${names ? ` (${names})` : ''}`,
    );
  }
  const needsAgent = (what: string) =>
    `${what} only through the anex agent, and this reconciler launches without it (anex run against real providers needs --agent-endpoint-url)`;
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    issues.push(...(container.envIssues ?? []));
    if (container.envSpec !== undefined && options.agent !== true)
      issues.push(
        `containers[${container.name}]: ${needsAgent('env valueFrom and envFrom can be given')}; set plain values`,
      );
    if ((container.mounts ?? []).length > 0 && options.agent !== true)
      issues.push(`containers[${container.name}].volumeMounts: ${needsAgent('volumes can be written')}`);
    issues.push(...(container.lifecycleIssues ?? []));
  }
  if ((pod.initContainers ?? []).length > 0 && options.agent !== true)
    issues.push(`spec.initContainers: ${needsAgent('init containers can be run')}`);
  return issues;
}
