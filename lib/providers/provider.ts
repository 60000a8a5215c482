import type { Requirements, VersionConstraint } from '../annotations/requirements.ts';
import type { RegistryAuth } from '../images/keyring.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';

/**
 * The boundary to a GPU marketplace, in the spirit of Karpenter's CloudProvider: the doc
 * comments are the contract every adapter (lib/providers/vastai, lib/providers/runpod) and
 * every fake must honour.
 *
 * Rules shared by all methods:
 * - Every call takes {@link CallOptions}; it must stop when `signal` aborts and must not run
 *   past `deadline` (reads are retried with backoff only while time remains).
 * - Failures throw an {@link import('../errors.ts').AnexError} with a `kind`; vendor errors
 *   never leave the adapter. API keys never appear in messages or logs.
 * - Expected outcomes are values: an offer taken by another renter, no capacity, an
 *   instance already gone.
 */
export interface Provider {
  readonly name: ProviderName;
  /**
   * The env var in which the vendor tells every container its own instance id (the id
   * `create` returns), if it sets one: the agent names its instance with it at bootstrap, so a
   * bootstrap token works on its own instance only (ADR 0021). Unset: the vendor sets none.
   */
  readonly instanceIdEnv?: string;

  /**
   * Live offers that may satisfy `requirements`. Adapters push what the vendor can filter
   * server-side (and `excludeMachineIds` for bans) but callers re-apply every filter locally
   * (lib/filter): the result may contain offers that fail some filters, never fewer matches.
   */
  listOffers(requirements: Requirements, options: ListOffersOptions): Promise<Offer[]>;

  /**
   * Rents `offer` and starts `launch` on it, tagged with `tag` (Vast `label`, RunPod `name`,
   * and the env var {@link TAG_ENV_VAR}). Sends the create request at most once: after an
   * ambiguous failure (timeout, reset, 5xx, unreadable body) it throws kind
   * `unknown-outcome` — the caller must then look for the tag with {@link listTagged}, never
   * resend. A 429 refused before processing may be resent.
   *
   * @returns `created`, or `offer-gone` / `capacity` when the market moved (try the next
   *   candidate at once, no ban). Auth, balance and request errors are thrown.
   */
  create(offer: Offer, launch: LaunchSpec, tag: InstanceTag, options: CallOptions): Promise<CreateResult>;

  /** Current state of one instance. An unknown or destroyed id yields state `gone`, not an error. */
  get(instanceId: string, options: CallOptions): Promise<Instance>;

  /**
   * Every instance this installation owns (tag prefix match on {@link InstanceTag.clusterId}),
   * across all pages. Used for adoption before create and for garbage collection, so it must be
   * complete: a page that fails makes the whole call fail rather than return a partial list.
   */
  listTagged(options: CallOptions): Promise<Instance[]>;

  /**
   * Destroys the instance and stops billing. Idempotent: `'gone'` when it was already
   * destroyed or never existed (404, Vast `{"instances": null}`).
   */
  destroy(instanceId: string, options: CallOptions): Promise<'destroyed' | 'gone'>;
  /**
   * Deletes what this installation made at the provider besides instances and no instance uses
   * any more (RunPod registry credentials, ADR 0016), after a grace that spares what a
   * concurrent pass has just made; never anything another installation or the user made.
   * Optional: providers that keep nothing else have none. @returns how many were deleted.
   */
  sweepCredentials?(options: CallOptions): Promise<number>;
  /**
   * The instance's container output as the provider's log API serves it now (RunPod
   * `GET /v2/pods/{id}/logs`, Vast `request_logs`), oldest line first, at most `tail` lines.
   * A read: repeatable, never changes the instance. An unknown or destroyed instance throws
   * kind `not-found`. Optional: `anex selftest` reads its marker with it (ADR 0018).
   */
  logs?(instanceId: string, options: LogOptions): Promise<string[]>;
}

export interface LogOptions extends CallOptions {
  /** the last lines wanted @default 1000 */
  tail?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Epoch milliseconds after which no new request is started. */
  deadline?: number;
}

export interface ListOffersOptions extends CallOptions {
  /** Vast machine ids banned right now: pushed as `machine_id notin` and never returned. */
  excludeMachineIds?: readonly string[];
}

/** Env var set on every instance, holding the tag string (for humans and adoption). */
export const TAG_ENV_VAR = 'ANEX_TAG';
/** Env var holding the pod UID on every instance. */
export const POD_UID_ENV_VAR = 'ANEX_POD_UID';

/**
 * Who owns an instance. Rendered by {@link formatTag} as `anex.<clusterId>.<podUid>`; vendors
 * keep it in Vast `label` / RunPod `name`.
 */
export interface InstanceTag {
  /** Identifies this anex installation, so two clusters sharing an account never collect each other's instances. */
  clusterId: string;
  podUid: string;
}

export function formatTag(tag: InstanceTag): string {
  return `anex.${tag.clusterId}.${tag.podUid}`;
}

/** The inverse of {@link formatTag}; undefined for labels that are not ours. */
export function parseTag(label: string | null | undefined): InstanceTag | undefined {
  if (!label) return undefined;
  const match = /^anex\.([a-z0-9-]{1,40})\.([0-9a-f-]{36})$/.exec(label);
  if (!match?.[1] || !match[2]) return undefined;
  return { clusterId: match[1], podUid: match[2] };
}

/** What to run on the instance (the agent wraps the pod's own command; lib/tunnel). */
export interface LaunchSpec {
  image: string;
  /** Entrypoint override; the agent bootstrap in practice. */
  command?: readonly string[];
  args?: readonly string[];
  /** Environment, including the tag and pod-UID vars and the agent's endpoint + token. */
  env: Readonly<Record<string, string>>;
  /** Container disk to allocate, GB. */
  diskGb: number;
  /**
   * The host CUDA the pod needs (anex.sh/cuda*), for providers that place the machine only at
   * create (RunPod: `gpu.minCudaVersion` / `allowedCudaVersions`); search-side providers have
   * filtered on it already.
   */
  cuda?: VersionConstraint;
  /**
   * The least host CPU and RAM the pod needs in total (anex.sh/cpu-min, ram-min), for
   * providers that place the machine only at create (RunPod: `gpu.minVcpuCountPerGpu` /
   * `minRamPerGpu`); search-side providers have filtered on them already.
   */
  floors?: { cpuCores?: number; ramMb?: number };
  /** Ports to expose, e.g. ["8080/http"]; usually none (traffic goes through the tunnel). */
  ports?: readonly string[];
  /**
   * The login for a private image's registry (the one of the pod's imagePullSecrets the
   * registry accepted): Vast `image_login`, RunPod a registry credential named for the login's
   * identity (ADR 0016). A secret: adapters send it to the provider only, never log it or put it
   * in an error.
   */
  registryAuth?: RegistryAuth;
}

export type CreateResult =
  | { outcome: 'created'; instance: Instance }
  /** Another renter took the offer, or it vanished (Vast `no_such_ask`). Not the machine's fault. */
  | { outcome: 'offer-gone'; reason: string }
  /**
   * The provider has no capacity for this candidate (RunPod "no longer any instances"), or
   * refuses this one candidate's pool (RunPod v2 403 on create; the reason names it).
   */
  | { outcome: 'capacity'; reason: string }
  /**
   * The provider refused this one candidate for a reason tied to it, not to the machine or
   * the market (RunPod v2 400: "breaks a cross-field rule, or this GPU and data center
   * combination could not be placed → try your next candidate"). The caller tries the next
   * candidate, cools this one down, and — when every candidate was refused — shows the last
   * reason as a problem with the request.
   */
  | { outcome: 'refused'; reason: string };

export type FailureFault = 'host' | 'image' | 'capacity' | 'unknown';

/** Normalized instance state (vendor statuses mapped in each adapter's mapper.ts). */
export type InstanceState =
  | { phase: 'pending' }
  | { phase: 'starting'; message?: string }
  | { phase: 'running' }
  | { phase: 'exited'; exitCode?: number }
  | { phase: 'failed'; reason: string; fault: FailureFault }
  | { phase: 'gone' };

export interface Instance {
  id: string;
  provider: ProviderName;
  /** Parsed from the vendor label/name; undefined when the instance is not ours. */
  tag?: InstanceTag;
  state: InstanceState;
  machineId?: string;
  gpuName?: string;
  gpuCount?: number;
  /** Billed USD/hour. */
  pricePerHour?: number;
  /** Epoch milliseconds. */
  createdAt?: number;
  publicIp?: string;
}

/**
 * How each provider's instances reach the cluster gateway: straight over UDP to the WireGuard
 * port, or over a TLS WebSocket (wstunnel) where the provider's network carries no UDP
 * (RunPod exposes only HTTP and TCP). Read by the agent endpoint's composition and by
 * `anex tunnel config`, so the fact lives in one place.
 */
export const GATEWAY_TRANSPORT: Readonly<Record<ProviderName, 'udp' | 'wstunnel'>> = {
  vastai: 'udp',
  runpod: 'wstunnel',
};
