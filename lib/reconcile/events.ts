import type { PodEvent } from '../kube/cluster.ts';
import type { Offer } from '../offers/offer.ts';
import type { Instance } from '../providers/provider.ts';
import type { InstanceRecord } from '../state/store.ts';
import { GPU_COOLDOWN_PREFIX, type InvalidReason, OFFER_COOLDOWN_PREFIX } from './rules.ts';
import { iso } from './status.ts';

/**
 * Event texts, in words a user acts on (DESIGN §4): what happened, to which machine, what
 * anex does next, and what the user can change. Kept stable (no clocks, no counters that
 * move every pass) so the API server's deduplication folds repeats into one event.
 */
export const events = {
  /** the pod's annotations are wrong, or its spec asks what a rented machine cannot honour */
  invalid(reason: InvalidReason, issues: readonly string[]): PodEvent {
    const fix =
      reason === 'UnsupportedPodSpec'
        ? 'A rented machine cannot honour this pod; nothing was rented. Change the spec and recreate the pod'
        : 'Fix these and the pod is retried automatically';
    return warn(reason, `${fix}: ${issues.join('; ')}`);
  },
  /** a spend limit or the namespace opt-in holds the pod before renting (ADR 0019): the message names the limit and the figures */
  spendHeld(reason: 'SpendLimit' | 'NamespaceNotEnabled' | 'GpuLimitExceeded', message: string): PodEvent {
    return warn(reason, message);
  },
  noMatchingOffers(summary: string): PodEvent {
    return warn('NoMatchingOffers', `No offer matches; relax a filter or wait for the market: ${summary}`);
  },
  offersUnavailable(provider: string, error: string): PodEvent {
    return warn(
      'ProvisionFailed',
      `Cannot list ${provider} offers right now (${error}); retrying on the next pass`,
    );
  },
  offerSelected(offer: Offer, attempt: number, maxAttempts: number): PodEvent {
    return normal('OfferSelected', `Renting ${describeOffer(offer)} (attempt ${attempt} of ${maxAttempts})`);
  },
  offerGone(offer: Offer, reason: string): PodEvent {
    return normal(
      'Provisioning',
      `Offer ${offer.offerId} was taken before we could rent it (${reason}); trying the next one`,
    );
  },
  rented(instance: Instance | InstanceRecord, offer: Offer): PodEvent {
    return normal(
      'Provisioning',
      `Rented instance ${instance.id} (${describeOffer(offer)}); waiting for it to start`,
    );
  },
  createUnknown(offer: Offer, error: string): PodEvent {
    return warn(
      'Provisioning',
      `The rent request for offer ${offer.offerId} got no clear answer (${error}); looking for its instance before trying anything else`,
    );
  },
  /** the rate billed after renting is above the pod's price-max: the instance is destroyed */
  billedAboveMax(reason: string): PodEvent {
    return warn('PriceAboveMax', reason);
  },
  createRefused(error: string): PodEvent {
    return warn('ProvisionFailed', `The provider refused to rent: ${error}`);
  },
  /** kubelet's wording for a pull failure ("Failed" + the image), found before anything was rented */
  imageRefused(message: string): PodEvent {
    return warn(
      'Failed',
      `${message}; nothing was rented. Fix the image and the pod is retried automatically`,
    );
  },
  imageUnchecked(message: string): PodEvent {
    return warn('ProvisionFailed', `${message}; nothing is rented until the image can be checked`);
  },
  /** RunPod 400: this candidate cannot be placed as asked; the next one is tried */
  offerRefused(offer: Offer, reason: string): PodEvent {
    return warn(
      'ProvisionFailed',
      `The provider refused offer ${offer.offerId} (${reason}); trying the next one`,
    );
  },
  allRefused(tried: number, last: string): PodEvent {
    return warn(
      'ProvisionFailed',
      `The provider refused all ${tried} offers tried; the last said: ${last}. The request may be wrong: check the pod's anex.sh annotations`,
    );
  },
  candidatesExhausted(tried: number): PodEvent {
    return warn(
      'ProvisionFailed',
      `All ${tried} offers tried were taken by other renters; retrying on the next pass`,
    );
  },
  adopted(instanceId: string, tag: string): PodEvent {
    return normal(
      'Adopted',
      `Found instance ${instanceId} already rented for this pod (tag ${tag}); using it instead of renting another`,
    );
  },
  machineBanned(key: string, until: number, reason: string): PodEvent {
    return warn(
      'MachineBanned',
      `${describeBan(key)} is skipped for all pods until ${iso(until)}: ${reason}`,
    );
  },
  attemptFailed(reason: string, next: 'retry' | 'give-up'): PodEvent {
    const then = next === 'retry' ? 'destroying it and trying another machine' : 'destroying it';
    return warn('ProvisionFailed', `${reason}; ${then}`);
  },
  /** kubelet's words when a container's config (env from a Secret or ConfigMap) cannot be made */
  configError(message: string): PodEvent {
    return warn('Failed', `Error: ${message}`);
  },
  /** kubelet's FailedMount: a volume's Secret or ConfigMap is missing; nothing is rented until it exists */
  mountFailed(message: string): PodEvent {
    return warn('FailedMount', `${message}; nothing is rented until it exists`);
  },
  gaveUp(message: string): PodEvent {
    return warn('ProvisionFailed', message);
  },
  started(instanceId: string): PodEvent {
    return normal('Started', `Container started on instance ${instanceId}`);
  },
  /** an init container or sidecar started (kubelet's "Started container <name>") */
  initStarted(container: string): PodEvent {
    return normal('Started', `Started container ${container}`);
  },
  instanceGone(instanceId: string, detail: string): PodEvent {
    return warn('InstanceGone', `Instance ${instanceId} ${detail}`);
  },
  /** a start problem under restartPolicy Always/OnFailure: renting again after a back-off */
  retryBackOff(message: string): PodEvent {
    return warn('BackOff', message);
  },
  /** kubelet's BackOff event, for a restart in place after a back-off */
  backOff(pod: string, seconds: number, container?: string): PodEvent {
    const which = container === undefined ? 'container' : `container ${container}`;
    return warn(
      'BackOff',
      `Back-off restarting failed ${which} in pod ${pod} (next start in ${seconds}s, on the same machine)`,
    );
  },
  /** kubelet's Unhealthy event: the agent's probe failed, in kubelet's words */
  unhealthy(message: string): PodEvent {
    return warn('Unhealthy', message);
  },
  /**
   * kubelet's FailedToRetrieveImagePullSecret, in its words: the pull goes on without the
   * Secrets it could not get. `forbidden`: anex may not read Secrets in that namespace (said
   * after kubelet's sentence: what to do about it).
   */
  pullSecretsMissing(names: readonly string[], forbidden?: string): PodEvent {
    const why =
      forbidden === undefined
        ? ''
        : ` anex may not read Secrets in namespace ${forbidden} (add it with anex manifests --env-namespaces).`;
    return warn(
      'FailedToRetrieveImagePullSecret',
      `Unable to retrieve some image pull secrets (${names.join(', ')}); attempting to pull the image may not succeed.${why}`,
    );
  },
  /** an init container failed under restartPolicy Never: the pod fails (kubelet) */
  initFailed(message: string): PodEvent {
    return warn(
      'Failed',
      `${message}; restartPolicy is Never, so the pod fails and its instance is destroyed`,
    );
  },
  /** the agent evicted the pod: an emptyDir over its sizeLimit (kubelet's eviction manager) */
  evicted(message: string): PodEvent {
    return warn('Evicted', `${message}; the instance is destroyed`);
  },
  /** the pod's activeDeadlineSeconds passed (kubelet's DeadlineExceeded) */
  deadlineExceeded(seconds: number): PodEvent {
    return normal(
      'DeadlineExceeded',
      `Pod was active on the node longer than the specified deadline (${seconds}s); its instance is destroyed`,
    );
  },
  terminated(instanceId: string, exitCode: number, restarting: boolean): PodEvent {
    const then = restarting
      ? 'restartPolicy asks for a restart: renting a new machine'
      : 'instance destroyed, billing stopped';
    return normal('Terminated', `Container exited with code ${exitCode} on instance ${instanceId}; ${then}`);
  },
};

/** A ban-store key in words: a machine, an offer scope, or a GPU type (see rules.ts cooldowns). */
export function describeBan(key: string): string {
  if (key.startsWith(GPU_COOLDOWN_PREFIX)) return `GPU type ${key.slice(GPU_COOLDOWN_PREFIX.length)}`;
  if (key.startsWith(OFFER_COOLDOWN_PREFIX)) return `Offer ${key.slice(key.indexOf('|') + 1)}`;
  return `Machine ${key}`;
}

export function describeOffer(offer: Offer): string {
  const where = offer.location ?? offer.region ?? 'unknown location';
  const machine = offer.machineId === undefined ? '' : `, machine ${offer.machineId}`;
  return `${offer.gpuCount}x ${offer.gpuName} in ${where} at $${offer.pricePerHour.toFixed(3)}/h (offer ${offer.offerId}${machine})`;
}

function normal(reason: PodEvent['reason'], message: string): PodEvent {
  return { type: 'Normal', reason, message };
}

function warn(reason: PodEvent['reason'], message: string): PodEvent {
  return { type: 'Warning', reason, message };
}
