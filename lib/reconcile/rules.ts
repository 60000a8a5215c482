import type { Requirements } from '../annotations/requirements.ts';
import type { PodView } from '../kube/cluster.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Ban } from '../state/store.ts';

/**
 * The pure decisions the reconciler borrows from lib/annotations and lib/filter, behind one
 * seam so plan stays a function of its inputs. `defaultRules` (rules-default.ts) wires the
 * real engine; unit tests use the same.
 */
export interface OfferRules {
  /**
   * The pod's requirements on `provider`, or every problem with its annotations and spec (each
   * naming the field). `agent`: the launch runs the anex agent (env from Secrets can be given).
   */
  requirements(pod: PodView, provider: ProviderName, context?: { agent?: boolean }): RequirementsResult;
  /** Offers that pass every filter and no ban, best first (price, then the documented tie-breaks). */
  rank(input: RankInput): Offer[];
  /** One line for a user: the funnel of filters and the nearest miss — why nothing matched. */
  explainNoMatch(input: RankInput): string;
}

export type RequirementsResult =
  | { ok: true; requirements: Requirements }
  | { ok: false; errors: readonly string[]; reason?: InvalidReason };

/** Why a pod's requirements cannot be met: its annotations, or a spec a rented machine cannot honour. */
export type InvalidReason = 'InvalidAnnotations' | 'UnsupportedPodSpec';

export interface RankInput {
  requirements: Requirements;
  offers: readonly Offer[];
  bans: readonly Ban[];
  now: number;
}

/**
 * Cooldowns where machines are not banned (RunPod), kept in the ban store under these keys:
 * first the failed offer's scope (GPU type × cloud × data center); when the same GPU type
 * fails again elsewhere while that cooldown holds, the GPU type as a whole.
 */
export const OFFER_COOLDOWN_PREFIX = 'offer:';
export const GPU_COOLDOWN_PREFIX = 'gpu:';
export const DEFAULT_OFFER_COOLDOWN_MS = 15 * 60_000;

export function offerCooldownKey(gpuName: string, offerId: string): string {
  return `${OFFER_COOLDOWN_PREFIX}${gpuName}|${offerId}`;
}

export function gpuCooldownKey(gpuName: string): string {
  return `${GPU_COOLDOWN_PREFIX}${gpuName}`;
}

export function isCooldownKey(key: string): boolean {
  return key.startsWith(OFFER_COOLDOWN_PREFIX) || key.startsWith(GPU_COOLDOWN_PREFIX);
}

/** Whether `offer` is cooling down under any of `keys` (the in-force ban keys). */
export function coolingDown(offer: Offer, keys: ReadonlySet<string>): boolean {
  return keys.has(offerCooldownKey(offer.gpuName, offer.offerId)) || keys.has(gpuCooldownKey(offer.gpuName));
}

/**
 * Offers are fetched once per distinct requirement set per pass: two pods asking for the
 * same thing share one listOffers call. Notes and warnings do not change what is listed.
 */
export function requirementsKey(requirements: Requirements): string {
  const { notes: _notes, warnings: _warnings, ...filters } = requirements;
  return stableJson(filters);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
