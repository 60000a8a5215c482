import type { Requirements } from '../annotations/requirements.ts';
import type { PodRef } from '../kube/cluster.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Instance } from '../providers/provider.ts';
import { formatTag } from '../providers/provider.ts';
import type { Ban, InstanceRecord, PodRecord, PodWrite } from '../state/store.ts';
import type { ReconcileConfig } from './config.ts';
import { mergeOffers } from './offers-widened.ts';
import { type OfferRules, requirementsKey } from './rules.ts';
import type { Observed, ObservedPod, PodPlan } from './types.ts';

/** What one pod may rent right now. */
export type Candidates =
  | { kind: 'ok'; offers: readonly Offer[] }
  | { kind: 'none'; summary: string }
  | { kind: 'unavailable'; error: string }
  /** probing: observe has not fetched this requirement set yet (see offersWanted) */
  | { kind: 'not-fetched' };

export interface OfferRequest {
  key: string;
  provider: ProviderName;
  requirements: Requirements;
}

/** Everything a pod's plan may consult besides the pod itself; pure. */
export interface PlanEnv {
  config: ReconcileConfig;
  now: number;
  candidates(requirements: Requirements, provider: ProviderName): Candidates;
  tag(podUid: string): string;
  /** bans and cooldowns in force for the provider, as observed (empty when they could not be read) */
  bans(provider: ProviderName): readonly Ban[];
}

export interface PlanOptions {
  config: ReconcileConfig;
  rules: OfferRules;
}

/**
 * Builds the environment over an observed snapshot. With `wanted`, it records every
 * requirement set a plan asks offers for instead of answering (the probe that tells
 * observe which listOffers calls the pass needs, so plan stays the one place that decides).
 */
export function planEnv(
  observed: Observed,
  options: PlanOptions,
  wanted?: Map<string, OfferRequest>,
): PlanEnv {
  const ranked = new Map<string, Candidates>();
  const { config, rules } = options;
  const now = observed.now;
  return {
    config,
    now,
    tag: (podUid) => formatTag({ clusterId: config.clusterId, podUid }),
    bans: (provider) => observed.bans[provider] ?? [],
    candidates(requirements, provider) {
      const key = requirementsKey(requirements);
      if (wanted !== undefined) {
        wanted.set(key, { key, provider, requirements });
        return { kind: 'not-fetched' };
      }
      const known = ranked.get(key);
      if (known !== undefined) return known;
      const answer = rank(observed, rules, { key, requirements, provider });
      ranked.set(key, answer);
      return answer;
    },
  };
}

function rank(observed: Observed, rules: OfferRules, request: OfferRequest): Candidates {
  const listing = observed.offers.get(request.key);
  if (listing === undefined) return { kind: 'unavailable', error: 'offers were not listed this pass' };
  if (!listing.ok) return { kind: 'unavailable', error: listing.error };
  const bans = observed.bans[request.provider];
  if (bans === undefined) return { kind: 'unavailable', error: 'machine bans could not be read' };
  const input = { requirements: request.requirements, offers: listing.offers, bans, now: observed.now };
  const offers = rules.rank(input);
  if (offers.length > 0) return { kind: 'ok', offers };
  const wider = listing.forExplain;
  const explained = wider === undefined ? input : { ...input, offers: mergeOffers(listing.offers, wider) };
  return { kind: 'none', summary: rules.explainNoMatch(explained) };
}

/** A plan that does nothing yet; callers add steps. */
export function basePlan(op: ObservedPod, label: PodPlan['label']): PodPlan {
  return {
    podUid: op.view.uid,
    provider: op.provider,
    pod: podRef(op),
    expectedVersion: op.record?.version,
    destroy: [],
    events: [],
    label,
  };
}

export function podRef(op: ObservedPod): PodRef {
  return { namespace: op.view.namespace, name: op.view.name, uid: op.view.uid };
}

/** The record as a write (what the next conditional put sends), or a fresh one for a pod seen first. */
export function currentWrite(op: ObservedPod): PodWrite {
  if (op.record !== undefined) return toWrite(op.record);
  return {
    podUid: op.view.uid,
    namespace: op.view.namespace,
    name: op.view.name,
    provider: op.provider,
    stage: 'pending',
    attempts: 0,
  };
}

export function toWrite(record: PodRecord): PodWrite {
  const { version: _version, updatedAt: _updatedAt, ...write } = record;
  return write;
}

/** `from` with `patch` applied and the `drop` fields removed (optional fields are absent, never undefined). */
export function change(
  from: PodWrite,
  patch: Partial<PodWrite>,
  drop: readonly (keyof PodWrite)[] = [],
): PodWrite {
  const next: Partial<PodWrite> = { ...from, ...patch };
  for (const key of drop) delete next[key];
  return next as PodWrite;
}

export function instanceRecord(instance: Instance, now: number): InstanceRecord {
  const record: InstanceRecord = { id: instance.id, createdAt: instance.createdAt ?? now };
  if (instance.machineId !== undefined) record.machineId = instance.machineId;
  if (instance.gpuName !== undefined) record.gpuName = instance.gpuName;
  if (instance.gpuCount !== undefined) record.gpuCount = instance.gpuCount;
  if (instance.pricePerHour !== undefined) record.pricePerHour = instance.pricePerHour;
  return record;
}

/** Oldest first, then by id: every pass adopts the same one of several duplicates. */
export function byAge(a: Instance, b: Instance): number {
  const age = (a.createdAt ?? 0) - (b.createdAt ?? 0);
  return age !== 0 ? age : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Every instance id to destroy for a pod: the listed ones plus the recorded one (destroy is idempotent). */
export function instanceIds(
  listed: readonly Instance[] | undefined,
  record: PodRecord | undefined,
): string[] {
  const ids = new Set((listed ?? []).map((i) => i.id));
  if (record?.instance !== undefined) ids.add(record.instance.id);
  return [...ids];
}

/** failureReason of a pod its agent evicted (an emptyDir over its sizeLimit: kubelet's Evicted). */
export const EVICTED = 'Evicted';

/** How a record's lastError starts when the agent reported its own failure ('failed'). */
export const AGENT_FAILED = 'The agent failed';

/** True when the agent said it failed: it reports nothing more for this machine. */
export function agentGaveUp(record: Pick<PodRecord, 'lastError'>): boolean {
  return record.lastError?.startsWith(AGENT_FAILED) === true;
}
