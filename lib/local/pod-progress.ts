import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';

/** One line of the pod's story as a user reads it. */
export interface ProgressLine {
  /** seconds since watching began */
  at: number;
  text: string;
}

export interface PodProgressOptions {
  core: CoreV1Api;
  namespace: string;
  name: string;
  /** printed as they come */
  onLine: (line: ProgressLine) => void;
  /** stop when this says so (e.g. phase Running) */
  done: (pod: V1Pod) => boolean;
  timeoutMs: number;
  signal: AbortSignal;
  /** @default 250 */
  pollMs?: number;
}

export type ProgressOutcome =
  | { kind: 'done'; pod: V1Pod }
  | { kind: 'timeout' | 'aborted' | 'gone'; pod?: V1Pod };

/**
 * Follows a pod by polling (the demo's narrator, not a controller): prints a line when its
 * phase, reason or node changes, and each new Event on it (the reconciler explains itself in
 * Events: offer selected, provisioning, started).
 */
export async function followPod(options: PodProgressOptions): Promise<ProgressOutcome> {
  const started = Date.now();
  const seenEvents = new Set<string>();
  let lastState = '';
  let pod: V1Pod | undefined;
  while (Date.now() - started < options.timeoutMs) {
    if (options.signal.aborted) return pod === undefined ? { kind: 'aborted' } : { kind: 'aborted', pod };
    const at = (Date.now() - started) / 1000;
    pod = await options.core
      .readNamespacedPod({ namespace: options.namespace, name: options.name })
      .catch((error: { code?: number }) => {
        if (error.code === 404) return undefined;
        throw error;
      });
    if (pod === undefined) return { kind: 'gone' };
    const state = describeState(pod);
    if (state !== lastState) options.onLine({ at, text: state });
    lastState = state;
    await printNewEvents(options, pod, seenEvents, at);
    if (options.done(pod)) return { kind: 'done', pod };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
  return pod === undefined ? { kind: 'timeout' } : { kind: 'timeout', pod };
}

/** "Pending · Provisioning: …" / "Running on anex-vastai, podIP …". */
export function describeState(pod: V1Pod): string {
  const phase = pod.status?.phase ?? 'Pending';
  const node = pod.spec?.nodeName;
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  const reason = pod.status?.reason ?? waiting?.reason;
  const message = pod.status?.message ?? waiting?.message;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const parts = [phase.padEnd(9)];
  if (node === undefined)
    parts.push(unscheduled?.message ? `not scheduled: ${unscheduled.message}` : 'waiting for the scheduler');
  else parts.push(`on ${node}`);
  if (reason !== undefined) parts.push(`· ${reason}${message ? `: ${message}` : ''}`);
  if (phase === 'Running' && pod.status?.podIP) parts.push(`· podIP ${pod.status.podIP}`);
  return parts.join(' ');
}

async function printNewEvents(
  options: PodProgressOptions,
  pod: V1Pod,
  seen: Set<string>,
  at: number,
): Promise<void> {
  for (const event of await eventsOf(options, pod)) {
    const key = `${event.reason}|${event.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    options.onLine({ at, text: `  event ${event.type ?? ''} ${event.reason ?? ''}: ${event.message ?? ''}` });
  }
}

async function eventsOf(options: PodProgressOptions, pod: V1Pod): Promise<CoreV1Event[]> {
  const uid = pod.metadata?.uid;
  if (uid === undefined) return [];
  const list = await options.core.listNamespacedEvent({
    namespace: options.namespace,
    fieldSelector: `involvedObject.uid=${uid}`,
  });
  return [...list.items].sort((a, b) => eventTime(a) - eventTime(b) || storyOrder(a) - storyOrder(b));
}

/** Events of one pass share a second; within it, tell them in the order they happen. */
const STORY = [
  'Scheduled',
  'InvalidAnnotations',
  'UnsupportedPodSpec',
  'NoMatchingOffers',
  'OfferSelected',
  'Provisioning',
  'Adopted',
  'Started',
];

function storyOrder(event: CoreV1Event): number {
  const at = STORY.indexOf(event.reason ?? '');
  return at < 0 ? STORY.length : at;
}

function eventTime(event: CoreV1Event): number {
  const t = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp;
  return t === undefined ? 0 : new Date(t as unknown as string).getTime();
}
