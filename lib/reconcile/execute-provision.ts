import { isAnexError } from '../errors.ts';
import type { RegistryAuth } from '../images/keyring.ts';
import type { PodEvent } from '../kube/cluster.ts';
import type { Offer } from '../offers/offer.ts';
import type { CallOptions, InstanceTag, LaunchSpec, Provider } from '../providers/provider.ts';
import type { PodRecord, PodWrite, Store } from '../state/store.ts';
import type { ReconcileConfig } from './config.ts';
import { events } from './events.ts';
import type { ImageGate } from './image-gate.ts';
import type { LaunchBuilder } from './launch.ts';
import { type PassError, passError } from './pass-errors.ts';
import { change, instanceRecord } from './plan-env.ts';
import { DEFAULT_OFFER_COOLDOWN_MS, offerCooldownKey } from './rules.ts';
import type { ProvisionPlan, Situation } from './types.ts';

export interface ProvisionDeps {
  store: Store;
  provider: Provider;
  config: ReconcileConfig;
  launch: LaunchBuilder;
  clock: () => number;
  /** the pre-rent image check; unset: no check (the provider finds out, at a cost) */
  images?: ImageGate;
  /**
   * Takes `offer` (its machine, where it names one) for pod `podUid`; false when another pod has it. Pods with the same
   * requirements see the same ranked list: without this each would send a create for the
   * same offer and all but one would spend a create slot (Vast: 4.5 s each) on
   * "no_such_ask". Unset: no sharing.
   */
  claim?: (offer: Offer, podUid: string) => Promise<boolean>;
}

export interface ProvisionRun {
  plan: ProvisionPlan;
  /** version of the stored record `plan.from` replaces (undefined: none stored yet) */
  version: number | undefined;
  call: CallOptions;
  /** epoch ms after which no new create is sent */
  deadline: number;
}

export interface ProvisionOutcome {
  record: PodRecord | undefined;
  situation: Situation;
  events: PodEvent[];
  error?: PassError;
  /** the provider refused for a reason that holds for every pod (auth, balance): stop renting there this pass */
  blockProvider?: boolean;
}

/**
 * Rents the first candidate that can be had, crash-safe (providers.md §7): the intent
 * (attempt, offer) is stored BEFORE create; the instance is stored right after. A crash
 * between the two leaves a 'creating' record that the next pass resolves by looking for the
 * tag (adopt) — never by sending the create again. Offers taken by others move on to the
 * next candidate at once and do not count as attempts.
 */
export async function provision(deps: ProvisionDeps, run: ProvisionRun): Promise<ProvisionOutcome> {
  const checked = await checkImage(deps, run);
  if ('refused' in checked) return checked.refused;
  const tag = { clusterId: deps.config.clusterId, podUid: run.plan.from.podUid };
  const built = await deps.launch({
    pod: run.plan.view,
    requirements: run.plan.requirements,
    tag,
    ...(checked.auth === undefined ? {} : { registryAuth: checked.auth }),
    ...(deps.provider.instanceIdEnv === undefined ? {} : { instanceIdEnv: deps.provider.instanceIdEnv }),
  });
  // Recorded with the intent: how the next passes tell "machine up" from "container started".
  // A new launch has not started: no earlier start may be taken for this one's. Its token
  // replaces any earlier one, which is refused from now on (ADR 0021).
  const from = change(
    run.plan.from,
    {
      launch: built.launch ?? 'plain',
      ...(built.vpnAddress === undefined ? {} : { vpnAddress: built.vpnAddress }),
      ...(built.agentToken === undefined ? {} : { agentToken: built.agentToken }),
    },
    [
      'startedAt',
      'statusCredentialHash',
      ...(built.agentToken === undefined ? (['agentToken'] as const) : []),
    ],
  );
  const state: Attempting = {
    deps,
    run,
    tag,
    launch: built.spec,
    from,
    version: run.version,
    record: undefined,
    said: [],
    refused: 0,
  };
  const tried: Offer[] = [];
  for (const offer of run.plan.candidates) {
    if (tried.length >= deps.config.maxCandidatesPerPass || deps.clock() >= run.deadline) break;
    if (deps.claim !== undefined && !(await deps.claim(offer, tag.podUid))) continue;
    tried.push(offer);
    const outcome = await tryOffer(state, offer);
    if (outcome !== undefined) return outcome;
  }
  if (tried.length > 0 && state.refused === tried.length && state.lastRefusal !== undefined) {
    // The docs' rule (RunPod POST /v2/pods 400): when every candidate is refused, the last
    // detail is a problem with the request. Each refused offer cools down, so the next passes
    // try others — never the same one again in a loop.
    const message = `The provider refused all ${tried.length} offers tried; the last said: ${state.lastRefusal}. Check the pod's anex.sh annotations; refused offers are skipped for a while`;
    state.said.push(events.allRefused(tried.length, state.lastRefusal));
    return { record: state.record, situation: { kind: 'provisioning', message }, events: state.said };
  }
  state.said.push(events.candidatesExhausted(tried.length));
  const message = `The ${tried.length} best offers were taken before they could be rented; retrying on the next pass`;
  return { record: state.record, situation: { kind: 'provisioning', message }, events: state.said };
}

/**
 * The image check before the intent is written: a refusal ends the pass for this pod with
 * kubelet's waiting reason and an event naming the image; nothing is rented or recorded, so
 * the next pass checks again (a fixed image or a pushed tag is picked up without a restart).
 * Otherwise the login the provider pulls with: the one the registry accepted, or without an
 * image check the first the kubelet would try.
 */
async function checkImage(
  deps: ProvisionDeps,
  run: ProvisionRun,
): Promise<{ refused: ProvisionOutcome } | { auth?: RegistryAuth }> {
  const { pullAuths = [], pullError } = run.plan;
  if (pullError !== undefined) return { refused: imageRefused('ErrImagePull', pullError) };
  const container = run.plan.view.containers[0];
  const first = pullAuths[0] === undefined ? {} : { auth: pullAuths[0] };
  if (deps.images === undefined || container === undefined) return first;
  const verdict = await deps.images(container, {
    arch: 'amd64',
    ...(run.call.signal === undefined ? {} : { signal: run.call.signal }),
    ...(pullAuths.length === 0 ? {} : { auths: pullAuths }),
  });
  switch (verdict.outcome) {
    case 'ok':
      return verdict.auth === undefined ? {} : { auth: verdict.auth };
    case 'retry':
      return {
        refused: {
          record: undefined,
          situation: { kind: 'provisioning', message: `${verdict.message}; retrying on the next pass` },
          events: [events.imageUnchecked(verdict.message)],
        },
      };
    case 'refused':
      return { refused: imageRefused(verdict.reason, verdict.message) };
  }
}

function imageRefused(reason: string, message: string): ProvisionOutcome {
  return {
    record: undefined,
    situation: { kind: 'image', reason, message },
    events: [events.imageRefused(message)],
  };
}

/** The provisioning of one pod in progress: the record as last written and what was said. */
interface Attempting {
  deps: ProvisionDeps;
  run: ProvisionRun;
  tag: InstanceTag;
  launch: LaunchSpec;
  /** the record to base the next intent on (stage pending) */
  from: PodWrite;
  version: number | undefined;
  record: PodRecord | undefined;
  said: PodEvent[];
  /** candidates of this pass the provider refused (outcome `refused`), and the last reason */
  refused: number;
  lastRefusal?: string;
}

/** One candidate: intent, create, then the outcome — or undefined to go on with the next candidate. */
async function tryOffer(state: Attempting, offer: Offer): Promise<ProvisionOutcome | undefined> {
  const { deps } = state;
  const attempt = state.from.attempts + 1;
  const creating = change(state.from, { stage: 'creating', intent: intentFor(offer, attempt, deps.clock()) });
  await write(state, creating);
  state.said.push(events.offerSelected(offer, attempt, deps.config.maxAttempts));
  const sent = await sendCreate(state, offer);
  if (sent.kind === 'unknown') {
    state.said.push(events.createUnknown(offer, sent.error.message));
    const message = `Waiting to learn whether the rent request for offer ${offer.offerId} went through; it is never sent twice`;
    return {
      record: state.record,
      situation: { kind: 'provisioning', message },
      events: state.said,
      error: sent.error,
    };
  }
  if (sent.kind === 'deferred') {
    // Nothing was sent: the provider's request slots are taken up to the pass's deadline.
    await write(state, state.from);
    const message = `Waiting for a free request slot at the provider (${sent.error.message}); retrying on the next pass`;
    return { record: state.record, situation: { kind: 'provisioning', message }, events: state.said };
  }
  if (sent.kind === 'refused') {
    // A request the provider calls wrong (RunPod 422) is not sent to this offer again soon.
    if (sent.requestWrong) await coolDown(state, offer, sent.error.message);
    const lastError = `The provider refused to rent offer ${offer.offerId}: ${sent.error.message}`;
    await write(state, change(state.from, { lastError }));
    state.said.push(events.createRefused(sent.error.message));
    const situation: Situation = { kind: 'provisioning', message: `${lastError}; retrying on the next pass` };
    return {
      record: state.record,
      situation,
      events: state.said,
      error: sent.error,
      blockProvider: sent.blockProvider,
    };
  }
  if (sent.result.outcome === 'created') {
    const instance = sent.result.instance;
    const recorded = {
      stage: 'starting' as const,
      attempts: attempt,
      instance: instanceRecord(instance, deps.clock()),
    };
    await write(state, change(creating, recorded, ['lastError']));
    state.said.push(events.rented(instance, offer));
    const message = `Instance ${instance.id} is starting (${offer.gpuCount}x ${offer.gpuName})`;
    return { record: state.record, situation: { kind: 'starting', message }, events: state.said };
  }
  if (sent.result.outcome === 'refused') {
    // Refused for this candidate (not the machine, not the market): cool it down, try the next.
    state.refused += 1;
    state.lastRefusal = sent.result.reason;
    await coolDown(state, offer, sent.result.reason);
    state.said.push(events.offerRefused(offer, sent.result.reason));
    state.from = change(state.from, { lastError: `Offer ${offer.offerId}: ${sent.result.reason}` });
    await write(state, state.from);
    return undefined;
  }
  // Offer gone or no capacity: the market moved, not the machine's fault; next candidate, same attempt.
  state.said.push(events.offerGone(offer, sent.result.reason));
  state.from = change(state.from, { lastError: `Offer ${offer.offerId}: ${sent.result.reason}` });
  await write(state, state.from);
  return undefined;
}

/**
 * The offer is skipped for the cooldown: the ban store's offer key (never a machine ban — the
 * machine did nothing wrong), which the ranking leaves out and the funnel counts.
 */
async function coolDown(state: Attempting, offer: Offer, reason: string): Promise<void> {
  const { deps } = state;
  const now = deps.clock();
  await deps.store.putBan({
    provider: offer.provider,
    machineId: offerCooldownKey(offer.gpuName, offer.offerId),
    reason: `refused by the provider: ${reason}`,
    createdAt: now,
    expiresAt: now + (deps.config.offerCooldownMs ?? DEFAULT_OFFER_COOLDOWN_MS),
  });
}

/** Conditional write over the version last written (a concurrent writer makes it fail with `conflict`). */
async function write(state: Attempting, record: PodWrite): Promise<void> {
  state.record = await state.deps.store.putPod(record, {
    expectedVersion: state.version,
    now: state.deps.clock(),
  });
  state.version = state.record.version;
}

type Sent =
  | { kind: 'answered'; result: Awaited<ReturnType<Provider['create']>> }
  | { kind: 'unknown'; error: PassError }
  /** the adapter's pacer held the request back: nothing was sent */
  | { kind: 'deferred'; error: PassError }
  | { kind: 'refused'; error: PassError; blockProvider: boolean; requestWrong: boolean };

async function sendCreate(state: Attempting, offer: Offer): Promise<Sent> {
  try {
    return {
      kind: 'answered',
      result: await state.deps.provider.create(offer, state.launch, state.tag, state.run.call),
    };
  } catch (error) {
    const failure = passError(`rent offer ${offer.offerId}`, error);
    // Only an error the adapter classified as "not processed" proves nothing was rented.
    if (!isAnexError(error) || error.kind === 'unknown-outcome' || error.kind === 'timeout') {
      return { kind: 'unknown', error: failure };
    }
    if (error.kind === 'rate-limited') return { kind: 'deferred', error: failure };
    return {
      kind: 'refused',
      error: failure,
      blockProvider: error.kind === 'auth' || error.kind === 'balance',
      requestWrong: error.kind === 'invalid-input',
    };
  }
}

function intentFor(offer: Offer, attempt: number, at: number): NonNullable<PodWrite['intent']> {
  return {
    attempt,
    offerId: offer.offerId,
    gpuName: offer.gpuName,
    at,
    ...(offer.machineId === undefined ? {} : { machineId: offer.machineId }),
  };
}
