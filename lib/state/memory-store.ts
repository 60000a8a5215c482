import type { ProviderName } from '../offers/offer.ts';
import { MemoryPaceLedger } from './memory-pace.ts';
import { addressNotHeld, podConflict, refusal } from './outcomes.ts';
import type {
  AddressAllocation,
  Ban,
  BootstrapToken,
  KubeletAddress,
  Lease,
  LogRun,
  LogTail,
  PodRecord,
  PodWrite,
  RateWindow,
  SlotReservation,
  Store,
  TokenUse,
} from './store.ts';

/**
 * The Store contract held in plain maps, for unit tests (STYLE.md: every interface of
 * ours has an in-memory implementation). Same semantics as DynamoStore — version
 * conflicts, expiry on read, lease take-over, single-use tokens — proven by the shared
 * contract suite (test/unit/state/store-contract.ts). Records are copied in and out so a
 * caller mutating a returned object cannot change what is stored, as with a real table.
 */
export class MemoryStore implements Store {
  readonly #pods = new Map<string, PodRecord>();
  readonly #bans = new Map<string, Ban>();
  readonly #leases = new Map<string, Lease>();
  readonly #addresses = new Map<string, AddressAllocation>();
  readonly #tokens = new Map<string, BootstrapToken>();
  readonly #rates = new Map<string, { start: number; count: number }>();
  readonly #paces = new MemoryPaceLedger();
  /** by pod uid, then container */
  readonly #logs = new Map<string, Map<string, LogTail>>();
  #kubelet: KubeletAddress | undefined;

  async getPod(podUid: string): Promise<PodRecord | undefined> {
    return copy(this.#pods.get(podUid));
  }

  async listPods(): Promise<PodRecord[]> {
    return [...this.#pods.values()]
      .sort((a, b) => compare(a.podUid, b.podUid))
      .map((p) => structuredClone(p));
  }

  async putPod(
    record: PodWrite,
    options: { expectedVersion: number | undefined; now: number },
  ): Promise<PodRecord> {
    const stored = this.#pods.get(record.podUid);
    const { expectedVersion, now } = options;
    if (expectedVersion === undefined && stored !== undefined) {
      throw podConflict(record.podUid, 'it already exists');
    }
    if (expectedVersion !== undefined && stored?.version !== expectedVersion) {
      throw podConflict(
        record.podUid,
        stored === undefined
          ? 'it does not exist'
          : `expected version ${expectedVersion}, found ${stored.version}`,
      );
    }
    const next: PodRecord = {
      ...structuredClone(record),
      version: (expectedVersion ?? 0) + 1,
      updatedAt: now,
    };
    this.#pods.set(record.podUid, next);
    return structuredClone(next);
  }

  async deletePod(podUid: string): Promise<void> {
    this.#logs.delete(podUid);
    this.#pods.delete(podUid);
  }

  async saveLogTail(
    podUid: string,
    container: string,
    run: Omit<LogRun, 'savedAt'>,
    options: { now: number },
  ): Promise<'saved' | 'stale'> {
    const tails = this.#logs.get(podUid) ?? new Map<string, LogTail>();
    const stored = tails.get(container);
    if (stored !== undefined && stored.current.run >= run.run) return 'stale';
    const current: LogRun = { ...structuredClone(run), savedAt: options.now };
    tails.set(container, {
      podUid,
      container,
      current,
      ...(stored === undefined ? {} : { previous: stored.current }),
    });
    this.#logs.set(podUid, tails);
    return 'saved';
  }

  async getLogTail(podUid: string, container: string): Promise<LogTail | undefined> {
    return copy(this.#logs.get(podUid)?.get(container));
  }

  async putKubeletAddress(address: KubeletAddress): Promise<void> {
    this.#kubelet = { ...address };
  }

  async getKubeletAddress(): Promise<KubeletAddress | undefined> {
    return copy(this.#kubelet);
  }

  async listBans(provider: ProviderName, now: number): Promise<Ban[]> {
    return [...this.#bans.values()]
      .filter((ban) => ban.provider === provider && ban.expiresAt > now)
      .sort((a, b) => compare(a.machineId, b.machineId))
      .map((ban) => structuredClone(ban));
  }

  async putBan(ban: Ban): Promise<void> {
    const key = banKey(ban.provider, ban.machineId);
    const stored = this.#bans.get(key);
    if (stored === undefined || stored.expiresAt < ban.expiresAt) {
      this.#bans.set(key, structuredClone(ban));
    }
  }

  async deleteBan(provider: ProviderName, machineId: string): Promise<boolean> {
    return this.#bans.delete(banKey(provider, machineId));
  }

  async acquireLease(name: string, owner: string, options: { now: number; ttlMs: number }): Promise<boolean> {
    const held = this.#leases.get(name);
    if (held !== undefined && held.owner !== owner && held.expiresAt > options.now) {
      return false;
    }
    this.#leases.set(name, { name, owner, expiresAt: options.now + options.ttlMs });
    return true;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    if (this.#leases.get(name)?.owner === owner) {
      this.#leases.delete(name);
    }
  }

  async claimAddress(address: string, podUid: string, options: { now: number }): Promise<boolean> {
    const held = this.#addresses.get(address);
    if (held === undefined) {
      this.#addresses.set(address, { address, podUid, allocatedAt: options.now });
      return true;
    }
    return held.podUid === podUid;
  }

  async setPeerKey(
    address: string,
    podUid: string,
    publicKey: string,
    egress?: readonly string[],
  ): Promise<void> {
    const held = this.#addresses.get(address);
    if (held?.podUid !== podUid) {
      throw addressNotHeld(address, podUid);
    }
    // The destinations belong to the key: a bootstrap without them clears the earlier ones.
    const { egress: _earlier, ...rest } = held;
    this.#addresses.set(address, {
      ...rest,
      publicKey,
      ...(egress === undefined ? {} : { egress: [...egress] }),
    });
  }

  async clearPeerKey(address: string, podUid: string): Promise<void> {
    const held = this.#addresses.get(address);
    if (held?.podUid !== podUid) return;
    const { publicKey: _key, egress: _egress, ...rest } = held;
    this.#addresses.set(address, rest);
  }

  async releaseAddress(address: string, podUid: string): Promise<void> {
    if (this.#addresses.get(address)?.podUid === podUid) {
      this.#addresses.delete(address);
    }
  }

  async listAddresses(): Promise<AddressAllocation[]> {
    return [...this.#addresses.values()]
      .sort((a, b) => compare(a.address, b.address))
      .map((a) => structuredClone(a));
  }

  async putToken(token: BootstrapToken): Promise<void> {
    this.#tokens.set(token.hash, structuredClone(token));
  }

  async consumeToken(hash: string, options: { now: number }): Promise<TokenUse> {
    const token = this.#tokens.get(hash);
    const refused = refusal(token, options.now);
    if (token === undefined || refused !== undefined) {
      return { outcome: refused ?? 'unknown' };
    }
    const used: BootstrapToken = { ...token, usedAt: options.now };
    this.#tokens.set(hash, used);
    return { outcome: 'ok', token: structuredClone(used) };
  }

  async countRequest(key: string, window: RateWindow): Promise<boolean> {
    // One window per key is enough: a later window starts the count afresh.
    const current = this.#rates.get(key);
    const count = current?.start === window.start ? current.count : 0;
    if (count >= window.limit) return false;
    this.#rates.set(key, { start: window.start, count: count + 1 });
    return true;
  }

  reserveSlot(
    key: string,
    options: { intervalMs: number; now: number; latest: number },
  ): Promise<SlotReservation> {
    return this.#paces.reserveSlot(key, options);
  }

  deferSlot(key: string, notBefore: number): Promise<void> {
    return this.#paces.deferSlot(key, notBefore);
  }
}

function banKey(provider: ProviderName, machineId: string): string {
  return `${provider}#${machineId}`;
}

function copy<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : structuredClone(value);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
