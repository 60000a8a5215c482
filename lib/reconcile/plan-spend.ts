import type { PodView } from '../kube/cluster.ts';
import { events } from './events.ts';
import { admit, byPodAge, currentSpend, type Held, type Spend, type SpendLimits } from './spend-limits.ts';
import { currentProvisionedMessage, provisionedMessage } from './status.ts';
import type { Observed, PodPlan, Situation } from './types.ts';

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
  const renting = plans
    .flatMap((plan) => (plan.provision === undefined ? [] : [{ plan, provision: plan.provision }]))
    .sort((a, b) => byPodAge(a.provision.view, b.provision.view));
  const decided = new Map<PodPlan, PodPlan>();
  for (const { plan, provision } of renting) {
    const namespace = provision.view.namespace;
    const verdict = admit({
      namespace,
      candidates: provision.candidates,
      spend,
      limits,
      tries: options.tries,
      ...gpuLimitOf(provision.view),
    });
    if ('held' in verdict) {
      decided.set(plan, held(plan, provision.view, verdict.held));
      continue;
    }
    reserve(spend, namespace, verdict.reserve);
    if (verdict.candidates !== provision.candidates)
      decided.set(plan, { ...plan, provision: { ...provision, candidates: verdict.candidates } });
  }
  return plans.map((p) => decided.get(p) ?? p);
}

/** The sum of the containers' nvidia.com/gpu limits, as the annotations' parser reads them. */
function gpuLimitOf(view: PodView): { gpuLimit?: number } {
  const limits = view.containers.flatMap((c) => (c.gpuLimit === undefined ? [] : [c.gpuLimit]));
  return limits.length === 0 ? {} : { gpuLimit: limits.reduce((a, b) => a + b, 0) };
}

/** A pod admitted in this pass counts against the limits for the pods after it. */
function reserve(spend: Spend, namespace: string, price: number): void {
  spend.perHour += price;
  spend.instances += 1;
  spend.byNamespace.set(namespace, (spend.byNamespace.get(namespace) ?? 0) + price);
}

/** The plan without its rent: Pending with the limit's reason, said once per new message. */
function held(plan: PodPlan, view: PodView, why: Held): PodPlan {
  const { provision: _dropped, ...rest } = plan;
  const situation: Situation = { kind: 'held', reason: why.reason, message: why.message };
  const isNew = currentProvisionedMessage(view.status) !== provisionedMessage(situation);
  const said = isNew ? [events.spendHeld(why.reason, why.message)] : [];
  const label = plan.label === 'provision' ? 'report' : plan.label;
  return { ...rest, label, situation, events: [...plan.events, ...said] };
}
