import type { PodWrite } from '../state/store.ts';
import { events } from './events.ts';
import { basePlan, change, type PlanEnv } from './plan-env.ts';
import { iso } from './status.ts';
import type { ObservedPod, PodPlan, Situation } from './types.ts';

/**
 * Start problems under restartPolicy Always/OnFailure, as kubelet treats them: the pod is
 * never Failed for them (a ReplicaSet would only create a replacement that rents again);
 * it stays Pending with a back-off reason and is retried after a back-off that doubles.
 * Each retry is a fresh budget of maxAttempts rentals, each after a real failure, so no loop
 * rents faster than the back-off allows. Only restartPolicy Never goes Failed.
 */

/** The first wait before renting again, and the cap (kubelet's image back-off is 10 s → 5 min; a rental costs more). */
export const RETRY_BACKOFF = { initialMs: 5 * 60_000, maxMs: 60 * 60_000 } as const;

/** kubelet's waiting reasons for a start that keeps failing. */
export type BackOffReason = 'ProvisioningBackOff' | 'ImagePullBackOff';

/** Failure reasons that are start problems (retried under Always/OnFailure), and the back-off reason each shows. */
const RETRIED: Readonly<Record<string, BackOffReason>> = {
  ProvisioningFailed: 'ProvisioningBackOff',
  ImagePullError: 'ImagePullBackOff',
};

/** The back-off reason for `failureReason` when the pod's restartPolicy retries it; undefined: the pod fails. */
export function backOffReason(op: ObservedPod, failureReason: string | undefined): BackOffReason | undefined {
  if (op.view.restartPolicy === 'Never' || failureReason === undefined) return undefined;
  return RETRIED[failureReason];
}

/** The record fields of a back-off starting now: the wait doubles from the last one. */
export function backOffFields(record: PodWrite, env: PlanEnv): Pick<PodWrite, 'retryAt' | 'retryBackoffMs'> {
  const last = record.retryBackoffMs;
  const wait = last === undefined ? RETRY_BACKOFF.initialMs : Math.min(RETRY_BACKOFF.maxMs, last * 2);
  return { retryAt: env.now + wait, retryBackoffMs: wait };
}

export function backOffSituation(reason: BackOffReason, record: PodWrite): Situation {
  const at = record.retryAt === undefined ? 'soon' : `at ${iso(record.retryAt)}`;
  return {
    kind: 'held',
    reason,
    message: `${record.lastError ?? 'The pod could not be started'}; retrying ${at}`,
  };
}

/** A pending pod with a back-off in force: report it and wait; once it is over, a fresh budget of attempts. */
export function planBackOff(
  op: ObservedPod,
  env: PlanEnv,
  record: PodWrite,
  provision: (after: PodWrite) => PodPlan,
): PodPlan | undefined {
  if (record.retryAt === undefined) return undefined;
  if (env.now < record.retryAt) {
    const reason = record.failureReason === 'ImagePullError' ? 'ImagePullBackOff' : 'ProvisioningBackOff';
    return { ...basePlan(op, 'wait'), situation: backOffSituation(reason, record) };
  }
  return provision(change(record, { attempts: 0 }, ['retryAt', 'failureReason']));
}

/** Give up for now under Always/OnFailure: Pending with the back-off, nothing rented until it is over. */
export function backOffInstead(
  op: ObservedPod,
  env: PlanEnv,
  from: PodWrite,
  reason: BackOffReason,
): PodPlan {
  const failureReason = reason === 'ImagePullBackOff' ? 'ImagePullError' : 'ProvisioningFailed';
  const after = change(from, { stage: 'pending', failureReason, ...backOffFields(from, env) }, [
    'intent',
    'instance',
    'statusCredentialHash',
    'finishedAt',
  ]);
  const message = `${after.lastError ?? 'The pod could not be started'}; retrying at ${iso(after.retryAt ?? env.now)}`;
  return {
    ...basePlan(op, 'report'),
    after,
    situation: { kind: 'held', reason, message },
    events: [events.retryBackOff(message)],
  };
}
