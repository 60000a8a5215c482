import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ProviderName } from '../offers/offer.ts';
import { decode, encode, encodeKey, encodeLogTail, encodeValues } from './codec.ts';
import { DynamoTable } from './dynamo-table.ts';
import { isConditionFailed, translateDynamoError } from './errors.ts';
import { banPartition, keys, logPartition, PARTITIONS } from './keys.ts';
import { addressNotHeld, podConflict, refusal } from './outcomes.ts';
import type {
  AddressAllocation,
  Ban,
  BootstrapToken,
  KubeletAddress,
  LogRun,
  LogTail,
  PodRecord,
  PodWrite,
  RateWindow,
  SlotReservation,
  Store,
  TokenUse,
} from './store.ts';
import { TABLE } from './table.ts';

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  tableName: string;
}

/** Used tokens are kept a day past expiry so a replayed token answers `used`, not `unknown`. */
const TOKEN_RETENTION_MS = 24 * 3_600_000;

/**
 * Store over one DynamoDB table (AWS, or dynalite locally and in tests). Every multi-writer
 * decision is a single conditional write (ConditionExpression), never a transaction —
 * dynalite has none, and none is needed: each method touches one item. Reads that decide
 * are strongly consistent. Attribute names always go through ExpressionAttributeNames
 * because several (name, namespace, owner, ttl) are DynamoDB reserved words.
 */
export class DynamoStore implements Store {
  readonly #table: DynamoTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoTable(options.client, options.tableName);
  }

  async getPod(podUid: string): Promise<PodRecord | undefined> {
    const item = await this.#table.get(keys.pod(podUid), `read pod record ${podUid}`);
    return item === undefined ? undefined : decode.pod(item);
  }

  async listPods(): Promise<PodRecord[]> {
    return (await this.#table.query(PARTITIONS.pod, 'list pod records')).map(decode.pod);
  }

  async putPod(
    record: PodWrite,
    options: { expectedVersion: number | undefined; now: number },
  ): Promise<PodRecord> {
    const { expectedVersion, now } = options;
    const stored: PodRecord = { ...record, version: (expectedVersion ?? 0) + 1, updatedAt: now };
    const condition =
      expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: encodeValues({ ':expected': expectedVersion }),
          };
    const won = await this.#table.conditional(
      () =>
        this.#table.client.send(
          new PutItemCommand({
            TableName: this.#table.name,
            Item: encode(keys.pod(record.podUid), stored),
            ...condition,
          }),
        ),
      `write pod record ${record.podUid}`,
    );
    if (!won) {
      throw podConflict(
        record.podUid,
        expectedVersion === undefined ? 'it already exists' : `it is no longer at version ${expectedVersion}`,
      );
    }
    return stored;
  }

  async deletePod(podUid: string): Promise<void> {
    // The tails first (store.ts): a crash after them leaves the record, which the next pass deletes again.
    const tails = await this.#table.query(logPartition(podUid), `list the log tails of pod ${podUid}`);
    for (const item of tails) {
      await this.#table.call(
        () =>
          this.#table.client.send(
            new DeleteItemCommand({
              TableName: this.#table.name,
              Key: encodeKey({ pk: logPartition(podUid), sk: item.sk?.S ?? '' }),
            }),
          ),
        `delete a log tail of pod ${podUid}`,
      );
    }
    await this.#table.call(
      () =>
        this.#table.client.send(
          new DeleteItemCommand({ TableName: this.#table.name, Key: encodeKey(keys.pod(podUid)) }),
        ),
      `delete pod record ${podUid}`,
    );
  }

  async saveLogTail(
    podUid: string,
    container: string,
    run: Omit<LogRun, 'savedAt'>,
    options: { now: number },
  ): Promise<'saved' | 'stale'> {
    const key = keys.logTail(podUid, container);
    const action = `save a log tail of pod ${podUid}`;
    // Read, then write on the condition that the current run is still the one read: two saves
    // at once cannot both push the same run to previous. A lost condition means another save
    // landed: read again (it may have made this run stale).
    for (let tries = 0; tries < 5; tries++) {
      const item = await this.#table.get(key, action);
      const stored = item === undefined ? undefined : decode.logTail(item);
      if (stored !== undefined && stored.current.run >= run.run) return 'stale';
      const tail: LogTail = {
        podUid,
        container,
        current: { ...run, savedAt: options.now },
        ...(stored === undefined ? {} : { previous: stored.current }),
      };
      // Two runs of at most 80 KiB of JSON each: ≤ ~165 KB, well under the 400 KB item limit.
      const won = await this.#table.conditional(
        () =>
          this.#table.client.send(
            new PutItemCommand({
              TableName: this.#table.name,
              Item: encode(key, encodeLogTail(tail)),
              ...(stored === undefined
                ? { ConditionExpression: 'attribute_not_exists(pk)' }
                : {
                    ConditionExpression: '#current.#run = :run',
                    ExpressionAttributeNames: { '#current': 'current', '#run': 'run' },
                    ExpressionAttributeValues: encodeValues({ ':run': stored.current.run }),
                  }),
            }),
          ),
        action,
      );
      if (won) return 'saved';
    }
    throw translateDynamoError(new Error('the tail kept changing under 5 tries'), action, this.#table.name);
  }

  async getLogTail(podUid: string, container: string): Promise<LogTail | undefined> {
    const item = await this.#table.get(keys.logTail(podUid, container), `read a log tail of pod ${podUid}`);
    return item === undefined ? undefined : decode.logTail(item);
  }

  async putKubeletAddress(address: KubeletAddress): Promise<void> {
    await this.#table.call(
      () =>
        this.#table.client.send(
          new PutItemCommand({ TableName: this.#table.name, Item: encode(keys.kubelet(), address) }),
        ),
      'record the kubelet API address',
    );
  }

  async getKubeletAddress(): Promise<KubeletAddress | undefined> {
    const item = await this.#table.get(keys.kubelet(), 'read the kubelet API address');
    return item === undefined ? undefined : decode.kubeletAddress(item);
  }

  async listBans(provider: ProviderName, now: number): Promise<Ban[]> {
    const items = await this.#table.query(banPartition(provider), `list ${provider} bans`, {
      FilterExpression: '#expiresAt > :now',
      ExpressionAttributeNames: { '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: encodeValues({ ':now': now }),
    });
    return items.map(decode.ban);
  }

  async putBan(ban: Ban): Promise<void> {
    // A lost condition means a later ban is already stored: that is the contract, not an error.
    await this.#table.conditional(
      () =>
        this.#table.client.send(
          new PutItemCommand({
            TableName: this.#table.name,
            Item: encode(keys.ban(ban.provider, ban.machineId), ban, ban.expiresAt),
            ConditionExpression: 'attribute_not_exists(pk) OR #expiresAt < :expiresAt',
            ExpressionAttributeNames: { '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: encodeValues({ ':expiresAt': ban.expiresAt }),
          }),
        ),
      `ban ${ban.provider} machine ${ban.machineId}`,
    );
  }

  async deleteBan(provider: ProviderName, machineId: string): Promise<boolean> {
    const output = await this.#table.call(
      () =>
        this.#table.client.send(
          new DeleteItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.ban(provider, machineId)),
            ReturnValues: 'ALL_OLD',
          }),
        ),
      `unban ${provider} machine ${machineId}`,
    );
    return output.Attributes !== undefined;
  }

  async acquireLease(name: string, owner: string, options: { now: number; ttlMs: number }): Promise<boolean> {
    const expiresAt = options.now + options.ttlMs;
    return this.#table.conditional(
      () =>
        this.#table.client.send(
          new PutItemCommand({
            TableName: this.#table.name,
            Item: encode(keys.lease(name), { name, owner, expiresAt }, expiresAt),
            ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR #expiresAt <= :now',
            ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: encodeValues({ ':owner': owner, ':now': options.now }),
          }),
        ),
      `acquire lease ${name}`,
    );
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#table.conditional(
      () =>
        this.#table.client.send(
          new DeleteItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.lease(name)),
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: encodeValues({ ':owner': owner }),
          }),
        ),
      `release lease ${name}`,
    );
  }

  async claimAddress(address: string, podUid: string, options: { now: number }): Promise<boolean> {
    // One UpdateItem: a new claim sets every field; a repeat by the holder changes nothing
    // (if_not_exists keeps allocatedAt), so a retried claim is harmless.
    return this.#table.conditional(
      () =>
        this.#table.client.send(
          new UpdateItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.address(address)),
            UpdateExpression: 'SET #address = :address, #podUid = :podUid, #at = if_not_exists(#at, :now)',
            ConditionExpression: 'attribute_not_exists(pk) OR #podUid = :podUid',
            ExpressionAttributeNames: { '#address': 'address', '#podUid': 'podUid', '#at': 'allocatedAt' },
            ExpressionAttributeValues: encodeValues({
              ':address': address,
              ':podUid': podUid,
              ':now': options.now,
            }),
          }),
        ),
      `claim VPN address ${address}`,
    );
  }

  async setPeerKey(
    address: string,
    podUid: string,
    publicKey: string,
    egress?: readonly string[],
  ): Promise<void> {
    // The destinations belong to the key: a bootstrap without them removes the earlier ones.
    const won = await this.#table.conditional(
      () =>
        this.#table.client.send(
          new UpdateItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.address(address)),
            UpdateExpression:
              egress === undefined
                ? 'SET #publicKey = :publicKey REMOVE #egress'
                : 'SET #publicKey = :publicKey, #egress = :egress',
            ConditionExpression: '#podUid = :podUid',
            ExpressionAttributeNames: { '#publicKey': 'publicKey', '#podUid': 'podUid', '#egress': 'egress' },
            ExpressionAttributeValues: encodeValues({
              ':publicKey': publicKey,
              ':podUid': podUid,
              ...(egress === undefined ? {} : { ':egress': [...egress] }),
            }),
          }),
        ),
      `set the peer key of VPN address ${address}`,
    );
    if (!won) throw addressNotHeld(address, podUid);
  }

  async clearPeerKey(address: string, podUid: string): Promise<void> {
    // Lost condition: the address is free or another pod's, so this pod has no key there.
    await this.#table.conditional(
      () =>
        this.#table.client.send(
          new UpdateItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.address(address)),
            UpdateExpression: 'REMOVE #publicKey, #egress',
            ConditionExpression: '#podUid = :podUid',
            ExpressionAttributeNames: { '#publicKey': 'publicKey', '#podUid': 'podUid', '#egress': 'egress' },
            ExpressionAttributeValues: encodeValues({ ':podUid': podUid }),
          }),
        ),
      `clear the peer key of VPN address ${address}`,
    );
  }

  async releaseAddress(address: string, podUid: string): Promise<void> {
    await this.#table.conditional(
      () =>
        this.#table.client.send(
          new DeleteItemCommand({
            TableName: this.#table.name,
            Key: encodeKey(keys.address(address)),
            ConditionExpression: '#podUid = :podUid',
            ExpressionAttributeNames: { '#podUid': 'podUid' },
            ExpressionAttributeValues: encodeValues({ ':podUid': podUid }),
          }),
        ),
      `release VPN address ${address}`,
    );
  }

  async listAddresses(): Promise<AddressAllocation[]> {
    return (await this.#table.query(PARTITIONS.address, 'list VPN addresses')).map(decode.address);
  }

  async putToken(token: BootstrapToken): Promise<void> {
    await this.#table.call(
      () =>
        this.#table.client.send(
          new PutItemCommand({
            TableName: this.#table.name,
            Item: encode(keys.token(token.hash), token, token.expiresAt + TOKEN_RETENTION_MS),
          }),
        ),
      `store a bootstrap token for pod ${token.podUid}`,
    );
  }

  async consumeToken(hash: string, options: { now: number }): Promise<TokenUse> {
    const action = 'consume a bootstrap token';
    try {
      const output = await this.#table.client.send(
        new UpdateItemCommand({
          TableName: this.#table.name,
          Key: encodeKey(keys.token(hash)),
          UpdateExpression: 'SET #usedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#usedAt) AND #expiresAt > :now',
          ExpressionAttributeNames: { '#usedAt': 'usedAt', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: encodeValues({ ':now': options.now }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { outcome: 'ok', token: decode.token(output.Attributes ?? {}) };
    } catch (error) {
      if (!isConditionFailed(error)) throw translateDynamoError(error, action, this.#table.name);
    }
    // Lost the condition: read once to say why (the item can only have become used since).
    const item = await this.#table.get(keys.token(hash), action);
    return { outcome: refusal(item === undefined ? undefined : decode.token(item), options.now) ?? 'used' };
  }

  async countRequest(key: string, window: RateWindow): Promise<boolean> {
    try {
      await this.#table.client.send(
        new UpdateItemCommand({
          TableName: this.#table.name,
          Key: encodeKey(keys.rate(key, window.start)),
          UpdateExpression: 'ADD #count :one SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
          ExpressionAttributeNames: { '#count': 'count', '#ttl': TABLE.ttlAttribute },
          // DynamoDB deletes the count a window after it closes (TTL deletes late; no reader cares).
          ExpressionAttributeValues: encodeValues({
            ':one': 1,
            ':limit': window.limit,
            ':ttl': Math.ceil((window.start + 2 * window.ms) / 1000),
          }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw translateDynamoError(error, 'count an agent request', this.#table.name);
    }
  }

  async reserveSlot(
    key: string,
    options: { intervalMs: number; now: number; latest: number },
  ): Promise<SlotReservation> {
    const { intervalMs, now, latest } = options;
    const names = { '#next': 'next', '#ttl': TABLE.ttlAttribute };
    // A day past the slot: a key nobody paced for that long is free anyway.
    const ttl = Math.ceil((latest + intervalMs + 86_400_000) / 1000);
    const action = `reserve a ${key} request slot`;
    for (let tries = 0; tries < 20; tries++) {
      // The key is free: the slot is now.
      if (
        await this.#conditional(action, {
          UpdateExpression: 'SET #next = :end, #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#next) OR #next <= :now',
          key,
          names,
          values: { ':end': now + intervalMs, ':now': now, ':ttl': ttl },
        })
      ) {
        return { kind: 'reserved', at: now };
      }
      // The key is busy until `next`: take that slot, if it comes in time.
      const taken = await this.#conditionalOld(action, {
        UpdateExpression: 'SET #next = #next + :interval, #ttl = :ttl',
        ConditionExpression: '#next > :now AND #next <= :latest',
        key,
        names,
        values: { ':interval': intervalMs, ':now': now, ':latest': latest, ':ttl': ttl },
      });
      if (taken !== undefined) return { kind: 'reserved', at: taken };
      const item = await this.#table.get(keys.pace(key), action);
      const next = Number(item?.next?.N ?? 0);
      if (next > latest) return { kind: 'busy', freeAt: next };
      // `next` fell behind `now` between the two writes: start over.
    }
    throw translateDynamoError(new Error('the slot kept changing under 20 tries'), action, this.#table.name);
  }

  async deferSlot(key: string, notBefore: number): Promise<void> {
    await this.#conditional(`defer ${key} requests`, {
      UpdateExpression: 'SET #next = :nb, #ttl = :ttl',
      ConditionExpression: 'attribute_not_exists(#next) OR #next < :nb',
      key,
      names: { '#next': 'next', '#ttl': TABLE.ttlAttribute },
      values: { ':nb': notBefore, ':ttl': Math.ceil((notBefore + 86_400_000) / 1000) },
    });
  }

  /** One conditional update of a pace item; false when the condition did not hold. */
  async #conditional(action: string, update: PaceUpdate): Promise<boolean> {
    return (await this.#paceUpdate(action, update, 'NONE')) !== false;
  }

  /** Like {@link #conditional}, answering the `next` it replaced. */
  async #conditionalOld(action: string, update: PaceUpdate): Promise<number | undefined> {
    const result = await this.#paceUpdate(action, update, 'UPDATED_OLD');
    return result === false ? undefined : Number(result?.next?.N ?? Number.NaN);
  }

  async #paceUpdate(
    action: string,
    update: PaceUpdate,
    returnValues: 'NONE' | 'UPDATED_OLD',
  ): Promise<Record<string, { N?: string }> | undefined | false> {
    try {
      const output = await this.#table.client.send(
        new UpdateItemCommand({
          TableName: this.#table.name,
          Key: encodeKey(keys.pace(update.key)),
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: update.ConditionExpression,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: encodeValues(update.values),
          ReturnValues: returnValues,
        }),
      );
      return output.Attributes as Record<string, { N?: string }> | undefined;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw translateDynamoError(error, action, this.#table.name);
    }
  }
}

interface PaceUpdate {
  key: string;
  UpdateExpression: string;
  ConditionExpression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}
