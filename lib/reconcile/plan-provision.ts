import type { PodRecord, PodWrite } from '../state/store.ts';
import { events } from './events.ts';
import { backOffInstead, backOffReason, planBackOff } from './plan-backoff.ts';
import {
  basePlan,
  byAge,
  type Candidates,
  change,
  currentWrite,
  instanceRecord,
  type PlanEnv,
} from './plan-env.ts';
import { currentProvisionedMessage, provisionedMessage } from './status.ts';
import type { ObservedPod, PodPlan, Situation } from './types.ts';

/** A pod without an instance: adopt one found by tag, else report or rent. */
export function planPending(op: ObservedPod, env: PlanEnv): PodPlan {
  const adopted = planAdoption(op, env);
  if (adopted !== undefined) return adopted;
  const record = currentWrite(op);
  const backOff = planBackOff(op, env, record, (after) => provisionOrReport(op, env, after));
  if (backOff !== undefined) return backOff;
  if (record.attempts >= env.config.maxAttempts) return giveUp(op, env, record);
  return provisionOrReport(op, env, undefined);
}

/** After a create with an unknown outcome: adopt the instance if it shows up, else move on once the read lag has passed. */
export function planCreating(op: ObservedPod, env: PlanEnv, record: PodRecord): PodPlan {
  const adopted = planAdoption(op, env);
  if (adopted !== undefined) return adopted;
  const intent = record.intent;
  if (intent !== undefined && env.now - intent.at < env.config.createLagMs) {
    const message = `Waiting to learn whether the rent request for offer ${intent.offerId} went through; it is never sent twice`;
    return { ...basePlan(op, 'wait'), situation: { kind: 'provisioning', message } };
  }
  const lastError = `The rent request for offer ${intent?.offerId ?? '?'} got no clear answer and no instance appeared`;
  const after = change(
    currentWrite(op),
    { stage: 'pending', attempts: intent?.attempt ?? record.attempts, lastError },
    // The attempt ended: its token goes with it (ADR 0021).
    ['intent', 'agentToken', 'statusCredentialHash'],
  );
  if (after.attempts >= env.config.maxAttempts) return giveUp(op, env, after);
  return provisionOrReport(op, env, after);
}

/**
 * A tagged instance for a pod that has none recorded is one we rented before a crash (or a
 * create whose answer was lost): adopt it rather than rent again; destroy any duplicates.
 */
function planAdoption(op: ObservedPod, env: PlanEnv): PodPlan | undefined {
  const [oldest, ...extras] = [...(op.instances ?? [])].sort(byAge);
  if (oldest === undefined) return undefined;
  const from = currentWrite(op);
  const attempts = Math.max(from.attempts, from.intent?.attempt ?? 1);
  const after = change(from, { stage: 'starting', attempts, instance: instanceRecord(oldest, env.now) });
  const message = `Instance ${oldest.id} (adopted) is starting`;
  return {
    ...basePlan(op, 'adopt'),
    destroy: extras.map((i) => i.id),
    after,
    situation: { kind: 'starting', message },
    events: [events.adopted(oldest.id, env.tag(op.view.uid))],
  };
}

/**
 * The pod needs a machine: report invalid annotations or no match (with an event when the
 * message is new), or plan to rent the ranked candidates. `after` is a record write that
 * must land first (e.g. closing an unknown create).
 */
export function provisionOrReport(
  op: ObservedPod,
  env: PlanEnv,
  after: PodWrite | undefined,
  failed?: FailedChoice,
): PodPlan {
  const base = { ...basePlan(op, 'report' as const), ...(after === undefined ? {} : { after }) };
  if (!op.requirements.ok) {
    const { errors, reason = 'InvalidAnnotations' } = op.requirements;
    return reported(op, base, { kind: 'invalid', issues: errors, reason }, () =>
      events.invalid(reason, errors),
    );
  }
  const requirements = op.requirements.requirements;
  const candidates = excluding(env.candidates(requirements, op.provider), failed);
  switch (candidates.kind) {
    case 'ok':
    case 'not-fetched': {
      const offers = candidates.kind === 'ok' ? candidates.offers : [];
      const message = 'Renting a machine from the matching offers';
      return {
        ...base,
        label: 'provision',
        provision: {
          from: after ?? currentWrite(op),
          view: op.view,
          requirements,
          candidates: offers,
          ...(op.pullAuths === undefined ? {} : { pullAuths: op.pullAuths }),
          ...(op.pullSecretError === undefined ? {} : { pullError: op.pullSecretError }),
        },
        situation: { kind: 'provisioning', message },
        // kubelet goes on without a pull Secret it cannot read, and says so
        ...(op.pullSecretsMissing === undefined
          ? {}
          : {
              events: [
                ...base.events,
                events.pullSecretsMissing(op.pullSecretsMissing.names, op.pullSecretsMissing.forbidden),
              ],
            }),
      };
    }
    case 'none':
      return reported(op, base, { kind: 'no-match', summary: candidates.summary }, () =>
        events.noMatchingOffers(candidates.summary),
      );
    case 'unavailable': {
      const message = `Cannot list offers right now (${candidates.error}); retrying on the next pass`;
      return reported(op, base, { kind: 'provisioning', message }, () =>
        events.offersUnavailable(op.provider, candidates.error),
      );
    }
  }
}

function reported(
  op: ObservedPod,
  base: PodPlan,
  situation: Situation,
  event: () => PodPlan['events'][number],
): PodPlan {
  const isNew = currentProvisionedMessage(op.view.status) !== provisionedMessage(situation);
  return { ...base, situation, events: isNew ? [event()] : [] };
}

/** Attempts used up: the pod is Failed with the last reason; nothing is rented any more. */
export function giveUp(op: ObservedPod, env: PlanEnv, from: PodWrite): PodPlan {
  const message = `Gave up after ${from.attempts} provisioning attempts; last error: ${from.lastError ?? 'unknown'}`;
  const retried = backOffReason(op, 'ProvisioningFailed');
  if (retried !== undefined) return backOffInstead(op, env, change(from, { lastError: message }), retried);
  // Terminal: the last attempt's credentials, key and address go with it (ADR 0021).
  const after = change(
    from,
    { stage: 'finished', finishedAt: env.now, failureReason: 'ProvisioningFailed', lastError: message },
    ['intent', 'instance', 'agentToken', 'statusCredentialHash'],
  );
  return {
    ...basePlan(op, 'finish'),
    after,
    ...(from.vpnAddress === undefined
      ? {}
      : { revokePeer: from.vpnAddress, releaseAddress: from.vpnAddress }),
    situation: { kind: 'failed', reason: 'ProvisioningFailed', message },
    events: [events.gaveUp(message)],
  };
}

/** What the attempt that just failed rented: neither is tried again in the same pass. */
export interface FailedChoice {
  machineId?: string | undefined;
  /** RunPod offers have no machine: the same (GPU type, cloud, data center) offer is skipped instead */
  offerId?: string | undefined;
  /** set when the whole GPU type was just cooled down */
  gpuName?: string | undefined;
}

/** The failed choice is not retried at once, banned or not (its ban is written later in the pass). */
function excluding(candidates: Candidates, failed: FailedChoice | undefined): Candidates {
  if (candidates.kind !== 'ok' || failed === undefined) return candidates;
  const offers = candidates.offers.filter(
    (o) =>
      (failed.machineId === undefined || o.machineId !== failed.machineId) &&
      o.offerId !== failed.offerId &&
      o.gpuName !== failed.gpuName,
  );
  if (offers.length > 0) return { kind: 'ok', offers };
  const what =
    failed.machineId === undefined ? `offer ${failed.offerId ?? '?'}` : `machine ${failed.machineId}`;
  return { kind: 'none', summary: `the only matching offers are on ${what}, which just failed` };
}
