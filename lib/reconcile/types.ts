import type { Requirements } from '../annotations/requirements.ts';
import type { RegistryAuth } from '../images/keyring.ts';
import type { PodEvent, PodRef, PodView } from '../kube/cluster.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Instance } from '../providers/provider.ts';
import type { Ban, PodRecord, PodWrite } from '../state/store.ts';
import type { InvalidReason, RequirementsResult } from './rules.ts';

/** One pod bound to a virtual node, with everything the plan needs about it. */
export interface ObservedPod {
  view: PodView;
  provider: ProviderName;
  record: PodRecord | undefined;
  /**
   * Tagged instances of this pod that are not gone, from the pass's one listTagged call;
   * undefined when that call failed (the provider is down: decide nothing that needs it).
   */
  instances: readonly Instance[] | undefined;
  requirements: RequirementsResult;
  /**
   * Why the container's environment cannot be built now (a Secret, ConfigMap or key it needs
   * is missing: kubelet's CreateContainerConfigError), checked before renting; names only.
   */
  envError?: string;
  /**
   * Why a volume cannot be made now (a Secret, ConfigMap or key it needs is missing: kubelet's
   * FailedMount, the pod stays ContainerCreating), checked before renting; names only.
   */
  mountError?: string;
  /** the logins for the image's registry from the pod's imagePullSecrets, in the kubelet's order (in memory only) */
  pullAuths?: readonly RegistryAuth[];
  /** imagePullSecrets that could not be read (missing, or not readable: `forbidden` names the namespace) */
  pullSecretsMissing?: { names: readonly string[]; forbidden?: string };
  /** a pull Secret whose docker config cannot be read: the pull fails (kubelet's ErrImagePull); no content */
  pullSecretError?: string;
}

/** Offers for one requirement set, or why they could not be listed. */
export type OfferListing =
  | {
      ok: true;
      offers: readonly Offer[];
      /** when the pod's search found nothing: a wider search's offers, for explaining only (never rented) */
      forExplain?: readonly Offer[];
    }
  | { ok: false; error: string };

/** A snapshot taken at the start of a pass (observe.ts). Nothing else is read before acting. */
export interface Observed {
  now: number;
  pods: readonly ObservedPod[];
  /** Records whose pod is in no node list (force-deleted, namespace gone), with their instances. */
  orphanRecords: readonly { record: PodRecord; instances: readonly Instance[] | undefined }[];
  /** Our tagged instances with neither a record nor a pod. */
  orphanInstances: readonly Instance[];
  /** Bans in force per provider (absent: the read failed; then nothing is provisioned there). */
  bans: Partial<Record<ProviderName, readonly Ban[]>>;
  /** Offers by requirementsKey, filled only for requirement sets some pod needs this pass. */
  offers: ReadonlyMap<string, OfferListing>;
  /** Providers whose instance list could not be read this pass. */
  providersDown: readonly ProviderName[];
  /**
   * Providers whose virtual node's pods could not be listed this pass (absent: none): their
   * pods are missing from `pods`, so nothing may be collected for lack of a pod.
   */
  podsUnlisted?: readonly ProviderName[];
  /**
   * In a per-pod pass: every other record (with its listed instances) and every tagged
   * instance of no record, read by the same calls. Only the spend limits count them (ADR 0019):
   * a pass that sees one pod must still see what the others spend. Nothing is planned for them.
   */
  others?: {
    records: readonly { record: PodRecord; instances: readonly Instance[] | undefined }[];
    instances: readonly Instance[];
  };
}

/**
 * What Kubernetes should say about a pod (status.ts turns it into a PodStatusUpdate).
 * Pending reasons are the ones DESIGN §4 names.
 */
export type Situation =
  | { kind: 'invalid'; issues: readonly string[]; reason?: InvalidReason }
  | { kind: 'no-match'; summary: string }
  | { kind: 'provisioning'; message: string }
  | { kind: 'starting'; message: string; hostIP?: string }
  | { kind: 'running'; startedAt: number; hostIP?: string }
  | { kind: 'terminated'; exitCode: number; startedAt?: number; finishedAt: number; message?: string }
  /**
   * Failed for good; `disruption` when the machine was lost under the running container
   * (the DisruptionTarget condition, so a Job's podFailurePolicy can retry without spending
   * its backoffLimit)
   */
  | { kind: 'failed'; reason: string; message: string; disruption?: string }
  /**
   * Pending with a reason and nothing rented: a start problem under restartPolicy
   * Always/OnFailure until its back-off is over (plan-backoff.ts), a DaemonSet's pod (never)
   */
  | { kind: 'held'; reason: string; message: string }
  /** the image check refused before renting (kubelet's waiting reasons: ErrImagePull, InvalidImageName, CreateContainerError) */
  | { kind: 'image'; reason: string; message: string };

/** A pod's record write, `'delete'` to remove it. */
export type RecordChange = PodWrite | 'delete';

/**
 * The effects for one pod (or one orphan), executed in this fixed order so that a crash
 * between two steps leaves a state the next pass finishes (execute.ts):
 * `before` record write → `revokePeer` → `ban` → destroy `destroy` (all must be confirmed
 * gone) → `after` record write or delete → `revokePeer` again → release `releaseAddress` →
 * `finalize` the pod → `provision` → report `situation` + `events`.
 */
export interface PodPlan {
  /** lease and log key; for an orphan instance, its tag's pod uid */
  podUid: string;
  provider: ProviderName;
  /** the pod in Kubernetes, when there is one to report on */
  pod?: PodRef;
  /** for a record whose pod vanished: re-checked with getPod before anything is destroyed */
  orphanOf?: PodRef;
  /** the record version observed; the executor re-reads it under the lease and skips the pod if it moved */
  expectedVersion: number | undefined;
  before?: PodWrite;
  ban?: Ban;
  destroy: readonly string[];
  after?: RecordChange;
  /**
   * the VPN address whose peer key goes because the attempt ended (ADR 0021): cleared right
   * after the record write that ends it, before anything is destroyed, and again after `after`
   * (a bootstrap that raced the end is undone)
   */
  revokePeer?: string;
  releaseAddress?: string;
  finalize?: boolean;
  /** annotations anex reports on the pod (`anex.sh/billed-price`), merged after the record write */
  annotate?: Readonly<Record<string, string>>;
  provision?: ProvisionPlan;
  /** undefined: leave the Kubernetes status as it is */
  situation?: Situation;
  events: readonly PodEvent[];
  /** a short label for summaries and logs */
  label: PlanLabel;
}

export interface ProvisionPlan {
  /** the record to write the intent over (the current one, or the `after` write) */
  from: PodWrite;
  view: PodView;
  requirements: Requirements;
  /** the logins for its image's registry (imagePullSecrets), in the kubelet's order; secrets: never logged */
  pullAuths?: readonly RegistryAuth[];
  /** why the pull would fail before any login is tried (an unreadable pull Secret), in kubelet's words */
  pullError?: string;
  /** ranked, bans already applied */
  candidates: readonly Offer[];
}

export type PlanLabel =
  | 'wait'
  | 'report'
  | 'provision'
  | 'adopt'
  | 'started'
  | 'release'
  | 'finish'
  | 'terminate'
  | 'gc-record'
  | 'gc-instance'
  | 'destroy-extra';
