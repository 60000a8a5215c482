import { type KubeConfig, Watch } from '@kubernetes/client-node';

/** What a pass should look at: a pod newly bound, a deletion requested, or a pod gone. */
export interface PodChange {
  kind: 'bound' | 'deleting' | 'deleted';
  uid: string;
  namespace: string;
  name: string;
}

export interface PodWatchOptions {
  kubeConfig: KubeConfig;
  nodeNames: readonly string[];
  onChange: (change: PodChange) => void;
  /** a watch ended with an error; it reconnects by itself */
  onError: (message: string) => void;
  /** wait before reconnecting @default 1_000 */
  retryMs?: number;
}

export interface PodWatch {
  stop(): void;
}

export interface WatchedPod {
  metadata?: { uid?: string; namespace?: string; name?: string; deletionTimestamp?: unknown };
}

/**
 * Replaces the admission webhook of the serverless deployment: one watch per virtual node
 * (field selector spec.nodeName), reporting only the transitions the webhook reports — a pod
 * bound to the node, its deletion requested, and its removal. Status writes of our own passes
 * arrive as MODIFIED too and are ignored, so a pass never triggers itself.
 */
export function watchPods(options: PodWatchOptions): PodWatch {
  const seen = new Map<string, { deleting: boolean }>();
  const controllers: AbortController[] = [];
  let stopped = false;
  const onEvent = (phase: string, pod: WatchedPod): void => {
    const change = podTransition(seen, phase, pod);
    if (change !== undefined) options.onChange(change);
  };
  const start = (nodeName: string): void => {
    if (stopped) return;
    const again = (error: unknown): void => {
      if (stopped) return;
      if (error) options.onError(error instanceof Error ? error.message : String(error));
      setTimeout(() => start(nodeName), options.retryMs ?? 1_000).unref();
    };
    new Watch(options.kubeConfig)
      .watch('/api/v1/pods', { fieldSelector: `spec.nodeName=${nodeName}` }, onEvent, again)
      .then((controller) => {
        if (stopped) controller.abort();
        else controllers.push(controller);
      }, again);
  };
  for (const nodeName of options.nodeNames) start(nodeName);
  return {
    stop() {
      stopped = true;
      for (const controller of controllers) controller.abort();
    },
  };
}

/**
 * The webhook-worthy transition a watch event means, given what was seen before (updated in
 * place): first sight of a pod → bound (or deleting), deletionTimestamp newly set →
 * deleting, DELETED → deleted; anything else (our own status writes) → undefined.
 */
export function podTransition(
  seen: Map<string, { deleting: boolean }>,
  phase: string,
  pod: WatchedPod,
): PodChange | undefined {
  const { uid, namespace, name } = pod.metadata ?? {};
  if (uid === undefined || namespace === undefined || name === undefined) return undefined;
  if (phase === 'DELETED') {
    seen.delete(uid);
    return { kind: 'deleted', uid, namespace, name };
  }
  const deleting = pod.metadata?.deletionTimestamp != null;
  const before = seen.get(uid);
  seen.set(uid, { deleting });
  if (before === undefined) return { kind: deleting ? 'deleting' : 'bound', uid, namespace, name };
  if (deleting && !before.deleting) return { kind: 'deleting', uid, namespace, name };
  return undefined;
}
