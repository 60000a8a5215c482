import { type PodEventMessage, parsePodEventMessage } from '../../lib/admission/pod-event.ts';
import type { Cluster } from '../../lib/kube/cluster.ts';
import type { PassSummary } from '../../lib/reconcile/pass.ts';
import { type EdgeAction, edgeActionFor } from './error-policy.ts';

export interface QueueRecord {
  messageId: string;
  body: string;
}

/** The outcome of one queue message, for logs and the batch response. */
export type RecordOutcome =
  | { messageId: string; outcome: 'passed'; podUid: string; summary: PassSummary }
  | { messageId: string; outcome: 'duplicate' | 'gone'; podUid?: string }
  | { messageId: string; outcome: 'invalid'; error: string }
  | { messageId: string; outcome: 'failed'; action: EdgeAction; error: unknown; podUid?: string }
  | { messageId: string; outcome: 'deadline' };

export interface PodBatchDeps {
  cluster: Pick<Cluster, 'getPod'>;
  /** one per-pod pass */
  pass: (podUid: string) => Promise<PassSummary>;
  signal: AbortSignal;
}

/**
 * Runs one pass per distinct pod in the batch, in order. A message that cannot be read is
 * dropped (retrying cannot fix it); a pass that failed retryably is reported failed so SQS
 * redelivers it (and, after maxReceiveCount, dead-letters it); messages not reached before
 * the deadline are reported failed too, to be redelivered.
 */
export async function processPodBatch(
  records: readonly QueueRecord[],
  deps: PodBatchDeps,
): Promise<RecordOutcome[]> {
  const seen = new Set<string>();
  const outcomes: RecordOutcome[] = [];
  for (const record of records) {
    if (deps.signal.aborted) {
      outcomes.push({ messageId: record.messageId, outcome: 'deadline' });
      continue;
    }
    outcomes.push(await processRecord(record, deps, seen));
  }
  return outcomes;
}

async function processRecord(
  record: QueueRecord,
  deps: PodBatchDeps,
  seen: Set<string>,
): Promise<RecordOutcome> {
  const { messageId } = record;
  const parsed = parsePodEventMessage(record.body);
  if (!parsed.ok) return { messageId, outcome: 'invalid', error: parsed.error };
  let podUid: string | undefined;
  try {
    podUid = await podUidOf(parsed.message, deps);
    if (podUid === undefined) return { messageId, outcome: 'gone' };
    if (seen.has(podUid)) return { messageId, outcome: 'duplicate', podUid };
    seen.add(podUid);
    return { messageId, outcome: 'passed', podUid, summary: await deps.pass(podUid) };
  } catch (error) {
    return {
      messageId,
      outcome: 'failed',
      action: edgeActionFor(error),
      error,
      ...(podUid ? { podUid } : {}),
    };
  }
}

/** The message's UID, or the live pod's when the sender knew only the name; undefined when gone. */
async function podUidOf(message: PodEventMessage, deps: PodBatchDeps): Promise<string | undefined> {
  if (message.podUid !== undefined) return message.podUid;
  const pod = await deps.cluster.getPod(message.namespace, message.name);
  return pod?.uid;
}

/** SQS partial batch response: only the messages worth redelivering. */
export function batchItemFailures(outcomes: readonly RecordOutcome[]): { itemIdentifier: string }[] {
  return outcomes
    .filter((o) => o.outcome === 'deadline' || (o.outcome === 'failed' && o.action === 'retry'))
    .map((o) => ({ itemIdentifier: o.messageId }));
}
