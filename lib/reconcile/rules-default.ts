import { parseRequirements } from '../annotations/parse.ts';
import { requestsOf } from '../annotations/requests.ts';
import { explain } from '../filter/explain.ts';
import { select } from '../filter/select.ts';
import { selectionIssues, unsupportedIssues } from './pod-checks.ts';
import { coolingDown, isCooldownKey, type OfferRules, type RankInput } from './rules.ts';

/** The real engine behind {@link OfferRules}: lib/annotations parses, lib/filter selects and explains. */
export const defaultRules: OfferRules = {
  requirements(pod, provider, context = {}) {
    const gpuLimits = pod.containers.flatMap((c) => (c.gpuLimit === undefined ? [] : [c.gpuLimit]));
    const parsed = parseRequirements({
      annotations: pod.annotations,
      nodeSelector: pod.nodeSelector,
      gpuLimits,
      resourceRequests: requestsOf(pod.containers.map((c) => c.resources?.requests ?? {})),
      // The pod is bound to this provider's node: that decides, whatever else it says.
      providerOverride: provider,
    });
    const unsupported = unsupportedIssues(pod, context);
    const issues = [...selectionIssues(pod, provider), ...unsupported];
    if (parsed.ok && issues.length === 0) return parsed;
    return {
      ok: false,
      errors: [...issues, ...(parsed.ok ? [] : parsed.errors)],
      reason: unsupported.length > 0 ? 'UnsupportedPodSpec' : 'InvalidAnnotations',
    };
  },
  rank(input) {
    const cooling = new Set(
      input.bans.filter((b) => b.expiresAt > input.now && isCooldownKey(b.machineId)).map((b) => b.machineId),
    );
    const ranked = select(input.requirements, input.offers, input.bans, input.now);
    return cooling.size === 0 ? ranked : ranked.filter((o) => !coolingDown(o, cooling));
  },
  explainNoMatch(input) {
    return funnelSummary(input);
  },
};

/**
 * "3412 offers → region 1020 → gpu-names 96 → price 0; nearest miss: RTX 4090 at $0.620/h
 * (price 0.62 > price-max 0.5)" — the user's answer to "why Pending?" (user-needs §7.2).
 */
export function funnelSummary(input: RankInput): string {
  const e = explain(input.requirements, input.offers, input.bans, input.now);
  if (e.total === 0) return 'the provider listed no offers for these requirements';
  const steps = e.funnel.map((s) => `${s.filter} ${s.remaining}`).join(' → ');
  const parts = [`${e.total} offers → ${steps}`];
  if (e.nearMiss !== undefined) {
    const o = e.nearMiss.offer;
    parts.push(
      `nearest miss: ${o.gpuCount}x ${o.gpuName} at $${o.pricePerHour.toFixed(3)}/h (${e.nearMiss.reason})`,
    );
  }
  if (e.notes.length > 0) parts.push(`notes: ${e.notes.join('; ')}`);
  return parts.join('; ');
}
