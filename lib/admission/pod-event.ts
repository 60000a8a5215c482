import { z } from 'zod';

/**
 * A request for a per-pod pass, sent on the pod-events queue. A hint, not a command: the
 * pass reads everything fresh, so a duplicate costs one idempotent pass and a lost one delays
 * the pod to the next minute tick.
 */
export const podEventMessageSchema = z.object({
  /** the pod's UID; absent when the sender only knew the name (the consumer looks it up) */
  podUid: z.string().min(1).optional(),
  namespace: z.string().min(1),
  name: z.string().min(1),
  /** why the pass was asked for (logs only) */
  cause: z.enum(['bound', 'deleted', 'agent-status']),
});

export type PodEventMessage = z.infer<typeof podEventMessageSchema>;

/** Parses a queue message body; an unreadable one is a bug of a sender and is dropped by the caller. */
export function parsePodEventMessage(
  body: string,
): { ok: true; message: PodEventMessage } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, error: 'message body is not JSON' };
  }
  const parsed = podEventMessageSchema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  return {
    ok: false,
    error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
  };
}

/** Where a pod event goes (SQS in Lambda; the local reconciler's own queue in `anex run`). */
export interface PodEventSink {
  send(message: PodEventMessage, options?: { signal?: AbortSignal }): Promise<void>;
}
