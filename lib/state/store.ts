import type { ProviderName } from '../offers/offer.ts';

/**
 * Durable state, one table (lib/state/table.ts). Implemented over DynamoDB
 * (lib/state/dynamo-store.ts: AWS, dynalite locally and in tests) and in memory
 * (lib/state/memory-store.ts: unit tests). Contract for every implementation:
 *
 * - Optimistic concurrency: records carry `version`; a write names the version it read
 *   and fails with an AnexError of kind `conflict` when someone else wrote in between.
 *   No transactions (dynalite has none): every multi-item change is ordered so that a
 *   crash between two writes leaves a state the next pass can finish.
 * - Time comes in as `now` (epoch ms); nothing reads a clock.
 * - Expiry is checked on read (`expiresAt > now` means in force); the `ttl` attribute only
 *   lets DynamoDB tidy up, late.
 * - Secrets are never stored in clear: bootstrap tokens are kept as hashes; WireGuard
 *   private keys are never stored at all.
 */
export interface Store
  extends PodStore,
    BanStore,
    LeaseStore,
    TunnelStore,
    LogStore,
    KubeletStore,
    RateStore,
    PaceStore {}

/** Where a pod is in anex's hands. Kubernetes status is derived from this plus the provider. */
export type PodStage =
  /** nothing rented: waiting for a valid spec or a matching offer */
  | 'pending'
  /** intent recorded, the create call may be in flight or its outcome unknown: adopt by tag, never resend blindly */
  | 'creating'
  /** an instance exists and has not reported running yet */
  | 'starting'
  | 'running'
  /** the attempt failed; the instance is being destroyed before the next candidate */
  | 'releasing'
  /** the pod is being deleted; the instance is being destroyed */
  | 'terminating'
  /** the container ended (Succeeded/Failed) and the instance is gone */
  | 'finished';

export interface ProvisionIntent {
  attempt: number;
  offerId: string;
  machineId?: string;
  /** the offer's GPU model, so a failure can cool down the GPU type where machines are not banned */
  gpuName?: string;
  /** epoch ms when the intent was recorded, before the create call */
  at: number;
}

export interface InstanceRecord {
  id: string;
  machineId?: string;
  gpuName?: string;
  gpuCount?: number;
  pricePerHour?: number;
  region?: string;
  /** epoch ms */
  createdAt: number;
}

/** One ended run of the container, as its lastState shows it. */
export interface TerminatedRun {
  exitCode: number;
  /** kubelet's words: Completed, Error, OOMKilled, ContainerStatusUnknown */
  reason: string;
  /** the agent's words when there are any (e.g. Unhealthy: killed after a failed liveness probe) */
  message?: string;
  /** epoch ms */
  startedAt?: number;
  finishedAt: number;
}

/**
 * One init container or sidecar on the current machine, as its agent reported it (protocol 4):
 * kubelet's initContainerStatuses are built from it.
 */
export interface InitRun {
  name: string;
  /** runs restarted in place so far (kubelet's restartCount) */
  restartCount: number;
  /** running; terminated (a finished init container); waiting (its back-off before a restart) */
  state: 'running' | 'terminated' | 'waiting';
  /** epoch ms the current run started */
  startedAt?: number;
  /** the finished run, when `terminated`; the previous one otherwise (lastState) */
  terminated?: TerminatedRun;
  /** seconds of back-off before the next run, when `waiting` */
  backoffSeconds?: number;
  /** a sidecar's readiness, as its probes say */
  ready?: boolean;
}

export interface PodRecord {
  podUid: string;
  namespace: string;
  name: string;
  provider: ProviderName;
  stage: PodStage;
  /** provisioning attempts made so far (a failed start counts; an offer gone does not) */
  attempts: number;
  intent?: ProvisionIntent;
  instance?: InstanceRecord;
  /** epoch ms the container started (agent report or provider running) */
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** last failure, worded for the user */
  lastError?: string;
  /** machine-readable reason of a final failure (pod status reason), e.g. ImagePullError, ProvisioningFailed */
  failureReason?: string;
  /**
   * restarts before this attempt's machine (earlier machines' runs, and a lost machine
   * counting as one): the pod's restartCount is this plus {@link PodRecord.agentRun}
   */
  restarts?: number;
  /** the run the agent on this machine reported last: 0 for its first start, +1 per restart in place */
  agentRun?: number;
  /** how the previous run ended (the container's lastState.terminated) */
  lastTerminated?: TerminatedRun;
  /** set while the agent waits to restart the container (CrashLoopBackOff); epoch ms `until` */
  backoff?: { seconds: number; until: number };
  /**
   * epoch ms before which nothing is rented: start problems under restartPolicy
   * Always/OnFailure back off instead of failing the pod (plan-backoff.ts)
   */
  retryAt?: number;
  /** the last such back-off, doubled for the next one; cleared once the container runs */
  retryBackoffMs?: number;
  /** readiness of the current run, as the agent's probes say; absent: ready once started unless a probe gates it */
  ready?: boolean;
  /** the init containers and sidecars on this machine, in the pod's order (cleared with the machine) */
  initRuns?: InitRun[];
  /**
   * hex SHA-256 of the credential the agent signs its status reports with (never the
   * credential): the current attempt's only, set at its bootstrap and removed in the record
   * write that ends the attempt (ADR 0021)
   */
  statusCredentialHash?: string;
  /**
   * The current attempt's bootstrap token (ADR 0021): its hex SHA-256, written with the launch
   * before the create and removed in the record write that ends the attempt, so a token of any
   * other attempt is refused. `instanceBound`: the provider tells the machine its instance id
   * (the launch set ANEX_INSTANCE_ID_ENV), so the agent must name it and it must be this
   * attempt's `instance.id`.
   */
  agentToken?: { hash: string; instanceBound?: boolean };
  vpnAddress?: string;
  /**
   * How the instance was launched (set with the intent): `agent` — the instance runs the anex
   * agent, so the container counts as started only when the agent reports it (provider
   * "running" means only that the machine is up); `plain` — the container runs as is and
   * provider "running" is the start. Absent (records written before the field): plain.
   */
  launch?: 'agent' | 'plain';
  /** optimistic-concurrency counter, set by the store */
  version: number;
  /** epoch ms of the last write */
  updatedAt: number;
}

/** A new record to create, or an update that names the version it read. */
export type PodWrite = Omit<PodRecord, 'version' | 'updatedAt'>;

export interface PodStore {
  getPod(podUid: string): Promise<PodRecord | undefined>;
  /** Every pod record, all pages (one Query on a fixed partition: O(1) calls per page of 1 MB). */
  listPods(): Promise<PodRecord[]>;
  /**
   * Creates (`expectedVersion` undefined: fails with `conflict` if it exists) or replaces
   * (fails with `conflict` unless the stored version equals `expectedVersion`).
   * @returns the record as stored, with its new version.
   */
  putPod(record: PodWrite, options: { expectedVersion: number | undefined; now: number }): Promise<PodRecord>;
  /**
   * Idempotent. Removes the pod's log tails ({@link LogStore}) first, then the record: the
   * tails live exactly as long as the record (which goes when the pod object does), and a crash
   * between the two leaves the record for the next pass to delete again, never orphaned tails.
   */
  deletePod(podUid: string): Promise<void>;
}

export interface Ban {
  provider: ProviderName;
  machineId: string;
  /** epoch ms; in force while expiresAt > now */
  expiresAt: number;
  reason: string;
  /** epoch ms */
  createdAt: number;
}

export interface BanStore {
  /** Bans in force at `now` for the provider (expired ones are not returned even if not yet deleted). */
  listBans(provider: ProviderName, now: number): Promise<Ban[]>;
  /** Creates or extends (a later expiry wins). */
  putBan(ban: Ban): Promise<void>;
  /** @returns whether a ban was removed. */
  deleteBan(provider: ProviderName, machineId: string): Promise<boolean>;
}

export interface Lease {
  name: string;
  owner: string;
  /** epoch ms */
  expiresAt: number;
}

export interface LeaseStore {
  /**
   * Takes the named lease for `owner` until `now + ttlMs` if it is free, expired, or
   * already held by `owner` (renewal). Conditional write: of two concurrent callers at most
   * one wins. Used per pod (`pod/<uid>`) so concurrent passes never provision twice, and for
   * the tick singleton.
   * @returns true when `owner` holds the lease afterwards.
   */
  acquireLease(name: string, owner: string, options: { now: number; ttlMs: number }): Promise<boolean>;
  /** Releases it if `owner` still holds it; otherwise does nothing. */
  releaseLease(name: string, owner: string): Promise<void>;
}

/** A VPN address held by a pod; also the gateway's peer entry once the agent bootstrapped. */
export interface AddressAllocation {
  address: string;
  podUid: string;
  /** the agent's WireGuard public key (never the private key) once known */
  publicKey?: string;
  /**
   * what this peer may reach through the gateway, set with the key at bootstrap: `<host>:<port>`
   * or `<IPv4 CIDR>:<port>` (GW_TUNNEL targets, anex.sh/allow-egress; lib/tunnel/gateway/peers.ts)
   */
  egress?: string[];
  /** epoch ms */
  allocatedAt: number;
}

export interface BootstrapToken {
  /** hex SHA-256 of the token; the token itself is never stored */
  hash: string;
  podUid: string;
  instanceId?: string;
  /** epoch ms */
  expiresAt: number;
  /** epoch ms when consumed */
  usedAt?: number;
}

export type TokenUse = { outcome: 'ok'; token: BootstrapToken } | { outcome: 'unknown' | 'expired' | 'used' };

export interface TunnelStore {
  /** Claims `address` for `podUid` (conditional put). @returns false when another pod holds it. */
  claimAddress(address: string, podUid: string, options: { now: number }): Promise<boolean>;
  /** Sets the agent's public key on the pod's allocation. */
  setPeerKey(address: string, podUid: string, publicKey: string, egress?: readonly string[]): Promise<void>;
  /**
   * Removes the key (and its destinations) from the allocation if `podUid` still holds it: the
   * gateway's desired peer set drops it, the address stays the pod's (ADR 0021). Idempotent.
   */
  clearPeerKey(address: string, podUid: string): Promise<void>;
  /** Frees it if `podUid` still holds it. */
  releaseAddress(address: string, podUid: string): Promise<void>;
  /** Every allocation (the gateway's desired peer set). */
  listAddresses(): Promise<AddressAllocation[]>;
  putToken(token: BootstrapToken): Promise<void>;
  /** Marks the token used at `now` if it exists, is unexpired and unused (conditional update: single use). */
  consumeToken(hash: string, options: { now: number }): Promise<TokenUse>;
}

/** One fixed rate-limit window: `limit` requests per `ms` milliseconds from `start`. */
export interface RateWindow {
  /** epoch ms, a multiple of `ms` */
  start: number;
  ms: number;
  limit: number;
}

/**
 * Request counts for the agent endpoint's per-pod rate limits, shared by every process that
 * serves the endpoint (each Lambda container would otherwise limit on its own).
 */
export interface RateStore {
  /**
   * Counts one request of `key` in `window` unless `window.limit` were already counted there
   * (a conditional write: concurrent callers never count past the limit). Counts of older
   * windows are left to expire.
   * @returns true when counted (allowed), false when the window is full
   */
  countRequest(key: string, window: RateWindow): Promise<boolean>;
}

/** What {@link PaceStore.reserveSlot} hands out. */
export type SlotReservation =
  /** send at `at` (epoch ms; may be now); the slot is counted */
  | { kind: 'reserved'; at: number }
  /** the next free slot lies past `latest`: nothing was counted */
  | { kind: 'busy'; freeAt: number };

/**
 * Send slots for a vendor's rate limits, shared by every process that calls the vendor with
 * one identity (the tick and pod-events Lambdas, `anex run` and the CLI): ADR 0011. A key's
 * state is one number, the earliest time its next request may go (GCRA without burst).
 */
export interface PaceStore {
  /**
   * Takes the next slot of `key`: now if the key is free, else the key's next free time;
   * the key's next free time becomes the slot + `intervalMs`. Conditional writes: concurrent
   * callers always get slots at least `intervalMs` apart. A slot past `latest` is not taken.
   */
  reserveSlot(
    key: string,
    options: { intervalMs: number; now: number; latest: number },
  ): Promise<SlotReservation>;
  /** Makes `key`'s next free time at least `notBefore` (a vendor's penalty after a 429). */
  deferSlot(key: string, notBefore: number): Promise<void>;
}

/** One line of a container's output, as the agent's log buffer keeps it (CRI log format). */
export interface LogEntry {
  /** RFC 3339 time with nanoseconds, as the agent stamped it */
  t: string;
  s: 'stdout' | 'stderr';
  /** the line's text without its newline: the user's output, never logged */
  l: string;
}

/** The tail of one run of a container, as its agent saved it at the run's end (ADR 0023 §5). */
export interface LogRun {
  /** the run on its machine: 0 for the first start, +1 per restart in place */
  run: number;
  entries: LogEntry[];
  /** lines the agent's buffer let go before this tail (older than what is kept) */
  dropped: number;
  /** epoch ms the endpoint stored it */
  savedAt: number;
}

/** The last two runs of one container of a pod. */
export interface LogTail {
  podUid: string;
  /** the init container's or sidecar's name; {@link APP_CONTAINER} for the app container */
  container: string;
  current: LogRun;
  previous?: LogRun;
}

/** The key the app container's tail is kept under (the agent names only init containers and sidecars). */
export const APP_CONTAINER = '';

/**
 * Log tails outlive the machine (ADR 0023 §5): `kubectl logs` (and `--previous`) answer from
 * them once the machine is gone, for as long as the pod exists. Contract:
 * - One tail per pod and container, holding the newest two runs. Saving run N when the current
 *   run is older makes the current one the previous; saving a run that is not newer than the
 *   current one (a replay, or a late report of an older run) changes nothing and answers
 *   `stale`. Of two concurrent saves the newer run wins, whichever lands first.
 * - The text is the user's: stores never log or echo it.
 * - Size: callers bound a run (the endpoint: ≤ 80 KiB of JSON per run), so a tail of two runs
 *   stays far below DynamoDB's 400 KB item limit.
 * - Tails go with the pod's record ({@link PodStore.deletePod}).
 */
export interface LogStore {
  /** @returns `saved`, or `stale` when the run is not newer than the stored current one. */
  saveLogTail(
    podUid: string,
    container: string,
    run: Omit<LogRun, 'savedAt'>,
    options: { now: number },
  ): Promise<'saved' | 'stale'>;
  getLogTail(podUid: string, container: string): Promise<LogTail | undefined>;
}

/** Where the kubelet API for the virtual nodes listens, as the gateway last reported it (ADR 0023 §3). */
export interface KubeletAddress {
  /** IPv4 address */
  ip: string;
  port: number;
  /** epoch ms of the report: a stale one is no longer advertised */
  reportedAt: number;
}

/**
 * The kubelet API's address (one record: one gateway serves every virtual node). Contract: a
 * put replaces the record; a get answers the last one put, however old (readers judge its age).
 */
export interface KubeletStore {
  putKubeletAddress(address: KubeletAddress): Promise<void>;
  getKubeletAddress(): Promise<KubeletAddress | undefined>;
}
