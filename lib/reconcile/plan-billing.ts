import { BILLED_PRICE_KEY } from '../annotations/keys.ts';
import type { Instance } from '../providers/provider.ts';
import { change, currentWrite } from './plan-env.ts';
import type { ObservedPod, PodPlan } from './types.ts';

/**
 * The rate the provider actually bills for a pod's instance (Vast instance `dph_total`, RunPod
 * `cost`) can differ from the offer it was rented from (hosts reprice; storage is added). It is
 * shown on the pod as `anex.sh/billed-price` and in `anex status`.
 */
const BILLED_PRICE_ANNOTATION = BILLED_PRICE_KEY;

/** `0.4500` — USD per hour, four decimals, as the annotation and `anex status` show it. */
export function formatBilledPrice(usdPerHour: number): string {
  return usdPerHour.toFixed(4);
}

/**
 * Why the instance must go because it bills more than the pod's `anex.sh/price-max` (or an
 * exact `anex.sh/price`) allows; undefined when the rate is allowed or not known yet.
 */
export function billedAboveMax(op: ObservedPod, instance: Instance): string | undefined {
  const billed = instance.pricePerHour;
  if (billed === undefined || !op.requirements.ok) return undefined;
  const price = op.requirements.requirements.pricePerHour;
  const max = price === undefined ? undefined : 'exact' in price ? price.exact : price.max;
  // A hundredth of a cent of slack: providers round the rates they show.
  if (max === undefined || billed <= max + 0.0001) return undefined;
  return (
    `Instance ${instance.id} bills $${formatBilledPrice(billed)}/h, above anex.sh/price-max $${formatBilledPrice(max)}/h; ` +
    'it is destroyed and the next offer is tried'
  );
}

/**
 * Adds the billed rate to `plan` where it is not shown yet: the pod's annotation, and the
 * record's instance price (what `anex status` reads) — folded into the plan's own record write
 * when it has one.
 */
export function withBilledPrice(plan: PodPlan, op: ObservedPod, instance: Instance | undefined): PodPlan {
  const billed = instance?.pricePerHour;
  if (billed === undefined || plan.pod === undefined) return plan;
  const value = formatBilledPrice(billed);
  let next = plan;
  if (op.view.annotations[BILLED_PRICE_ANNOTATION] !== value) {
    next = { ...next, annotate: { [BILLED_PRICE_ANNOTATION]: value } };
  }
  const recorded = op.record?.instance;
  if (recorded === undefined || recorded.id !== instance?.id || recorded.pricePerHour === billed) return next;
  if (next.after === 'delete') return next;
  const base = next.after ?? currentWrite(op);
  const stored = base.instance ?? recorded;
  return { ...next, after: change(base, { instance: { ...stored, pricePerHour: billed } }) };
}
