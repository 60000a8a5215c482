import { isAnexError } from '../errors.ts';
import type { PodEvent } from '../kube/cluster.ts';
import type { Offer } from '../offers/offer.ts';
import type { CallOptions, Provider } from '../providers/provider.ts';
import type { PodRecord, PodWrite, Store } from '../state/store.ts';
import type { ReconcileConfig } from './config.ts';
import { events } from './events.ts';
import type { LaunchBuilder } from './launch.ts';
import { type PassError, passError } from './pass-errors.ts';
import { change, instanceRecord } from './plan-env.ts';
import type { ProvisionPlan, Situation } from './types.ts';

export interface ProvisionDeps {
  store: Store;
  provider: Provider;
  config: ReconcileConfig;
  launch: LaunchBuilder;
  clock: () => number;
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
  const { plan } = run;
  const said: PodEvent[] = [];
  let from = plan.from;
  let version = run.version;
  let record: PodRecord | undefined;
  const tag = { clusterId: deps.config.clusterId, podUid: from.podUid };
  const built = await deps.launch({ pod: plan.view, requirements: plan.requirements, tag });
  const launch = built.spec;
  if (built.vpnAddress !== undefined) from = change(from, { vpnAddress: built.vpnAddress });
  const tried = plan.candidates.slice(0, deps.config.maxCandidatesPerPass);
  for (const offer of tried) {
    if (deps.clock() >= run.deadline) break;
    const attempt = from.attempts + 1;
    const creating = change(from, { stage: 'creating', intent: intentFor(offer, attempt, deps.clock()) });
    record = await deps.store.putPod(creating, { expectedVersion: version, now: deps.clock() });
    version = record.version;
    said.push(events.offerSelected(offer, attempt, deps.config.maxAttempts));
    const sent = await sendCreate(deps, offer, launch, tag, run.call);
    if (sent.kind === 'unknown') {
      said.push(events.createUnknown(offer, sent.error.message));
      const message = `Waiting to learn whether the rent request for offer ${offer.offerId} went through; it is never sent twice`;
      return { record, situation: { kind: 'provisioning', message }, events: said, error: sent.error };
    }
    if (sent.kind === 'refused') {
      const lastError = `The provider refused to rent offer ${offer.offerId}: ${sent.error.message}`;
      record = await deps.store.putPod(change(from, { lastError }), {
        expectedVersion: version,
        now: deps.clock(),
      });
      said.push(events.createRefused(sent.error.message));
      const situation: Situation = {
        kind: 'provisioning',
        message: `${lastError}; retrying on the next pass`,
      };
      return { record, situation, events: said, error: sent.error, blockProvider: sent.blockProvider };
    }
    if (sent.result.outcome === 'created') {
      const instance = sent.result.instance;
      const starting = change(
        creating,
        { stage: 'starting', attempts: attempt, instance: instanceRecord(instance, deps.clock()) },
        ['lastError'],
      );
      record = await deps.store.putPod(starting, { expectedVersion: version, now: deps.clock() });
      said.push(events.rented(instance, offer));
      const message = `Instance ${instance.id} is starting (${offer.gpuCount}x ${offer.gpuName})`;
      return { record, situation: { kind: 'starting', message }, events: said };
    }
    // Offer gone or no capacity: the market moved, not the machine's fault; next candidate, same attempt.
    said.push(events.offerGone(offer, sent.result.reason));
    from = change(from, { lastError: `Offer ${offer.offerId}: ${sent.result.reason}` });
    record = await deps.store.putPod(from, { expectedVersion: version, now: deps.clock() });
    version = record.version;
  }
  said.push(events.candidatesExhausted(tried.length));
  const message = `The ${tried.length} best offers were taken before they could be rented; retrying on the next pass`;
  return { record, situation: { kind: 'provisioning', message }, events: said };
}

type Sent =
  | { kind: 'answered'; result: Awaited<ReturnType<Provider['create']>> }
  | { kind: 'unknown'; error: PassError }
  | { kind: 'refused'; error: PassError; blockProvider: boolean };

async function sendCreate(
  deps: ProvisionDeps,
  offer: Offer,
  launch: Parameters<Provider['create']>[1],
  tag: Parameters<Provider['create']>[2],
  call: CallOptions,
): Promise<Sent> {
  try {
    return { kind: 'answered', result: await deps.provider.create(offer, launch, tag, call) };
  } catch (error) {
    const failure = passError(`rent offer ${offer.offerId}`, error);
    // Only an error the adapter classified as "not processed" proves nothing was rented.
    if (!isAnexError(error) || error.kind === 'unknown-outcome' || error.kind === 'timeout') {
      return { kind: 'unknown', error: failure };
    }
    return {
      kind: 'refused',
      error: failure,
      blockProvider: error.kind === 'auth' || error.kind === 'balance',
    };
  }
}

function intentFor(offer: Offer, attempt: number, at: number): NonNullable<PodWrite['intent']> {
  return {
    attempt,
    offerId: offer.offerId,
    at,
    ...(offer.machineId === undefined ? {} : { machineId: offer.machineId }),
  };
}
