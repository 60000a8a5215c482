import { events } from './events.ts';
import { basePlan } from './plan-env.ts';
import { admit, byPodAge, currentSpend, type Held, type SpendLimits } from './spend-limits.ts';
import { currentProvisionedMessage, provisionedMessage } from './status.ts';
import type { Observed, ObservedPod, PodPlan, Situation } from './types.ts';

/**
 * The spend limits over a pass's plans (ADR 0019): every plan that would rent is checked,
 * oldest pod first, against the spend observed plus what the pods before it in this pass
 * may rent, so two pods in one pass cannot both pass a cap. A pod over a limit keeps the
 * rest of its plan (a record write, a destroy) but rents nothing: it stays Pending with the
 * limit and the figures, and an event when that message is new. Without limits (the
 * reconciler's library default) the plans are returned as they are.
 */
export function applySpendLimits(
  observed: Observed,
  plans: readonly PodPlan[],
  options: { limits: SpendLimits | undefined; tries: number },
): PodPlan[] {
  const { limits } = options;
  if (limits === undefined) return [...plans];
  const spend = currentSpend({ ...observed, plans, limits });
  const pods = new Map(observed.pods.map((op) => [op.view.uid, op]));
  const renting = plans
    .filter((p) => p.provision !== undefined)
    .sort((a, b) =>
      byPodAge(
        (a.provision as NonNullable<PodPlan['provision']>).view,
        (b.provision as NonNullable<PodPlan['provision']>).view,
      ),
    );
  const decided = new Map<PodPlan, PodPlan>();
  for (const p of renting) {
    const provision = p.provision as NonNullable<PodPlan['provision']>;
    const verdict = admit({
      namespace: provision.view.namespace,
      candidates: provision.candidates,
      spend,
      limits,
      tries: options.tries,
    });
    const op = pods.get(p.podUid);
    if ('held' in verdict) {
      if (op !== undefined) decided.set(p, held(op, p, verdict.held));
      continue;
    }
    spend.perHour += verdict.reserve;
    spend.instances += 1;
    const ns = provision.view.namespace;
    spend.byNamespace.set(ns, (spend.byNamespace.get(ns) ?? 0) + verdict.reserve);
    if (verdict.candidates !== provision.candidates)
      decided.set(p, { ...p, provision: { ...provision, candidates: verdict.candidates } });
  }
  return plans.map((p) => decided.get(p) ?? p);
}

/** The plan without its rent: Pending with the limit's reason, said once per new message. */
function held(op: ObservedPod, plan: PodPlan, why: Held): PodPlan {
  const { provision: _dropped, ...rest } = plan;
  const situation: Situation = { kind: 'held', reason: why.reason, message: why.message };
  const isNew = currentProvisionedMessage(op.view.status) !== provisionedMessage(situation);
  const said = isNew ? [events.spendHeld(why.reason, why.message)] : [];
  const label = plan.label === 'provision' ? basePlan(op, 'report').label : plan.label;
  return { ...rest, label, situation, events: [...plan.events, ...said] };
}
