import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { AnexError } from '../errors.ts';
import { PROVIDERS } from '../offers/offer.ts';
import type { ItemKey } from './keys.ts';
import type {
  AddressAllocation,
  Ban,
  BootstrapToken,
  KubeletAddress,
  Lease,
  LogRun,
  LogTail,
  PodRecord,
} from './store.ts';
import { TABLE } from './table.ts';

/**
 * Record ↔ item. A record's fields are stored as top-level attributes next to the key
 * (`pk`, `sk`) and the optional `ttl` (epoch seconds, DynamoDB clean-up only). Items are
 * parsed with zod on the way out: a malformed item (hand-edited, written by another
 * version) becomes a `bad-response` error naming its key instead of a wrong decision.
 */
export type Item = Record<string, AttributeValue>;

export function encode(key: ItemKey, record: object, ttlMs?: number): Item {
  const item: Record<string, unknown> = { ...record, [TABLE.partitionKey]: key.pk, [TABLE.sortKey]: key.sk };
  if (ttlMs !== undefined) item[TABLE.ttlAttribute] = Math.ceil(ttlMs / 1000);
  return marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: false });
}

export function encodeKey(key: ItemKey): Item {
  return marshall({ [TABLE.partitionKey]: key.pk, [TABLE.sortKey]: key.sk });
}

export function encodeValues(values: Record<string, unknown>): Item {
  return marshall(values, { removeUndefinedValues: true });
}

function decoder<T>(kind: string, schema: z.ZodType<T>): (item: Item) => T {
  return (item) => {
    const raw = unmarshall(item);
    const { [TABLE.partitionKey]: pk, [TABLE.sortKey]: sk, [TABLE.ttlAttribute]: _ttl, ...fields } = raw;
    const parsed = schema.safeParse(fields);
    if (!parsed.success) {
      throw new AnexError(
        `stored ${kind} item ${String(pk)}/${String(sk)} is malformed: ${z.prettifyError(parsed.error)}`,
        { kind: 'bad-response', cause: parsed.error },
      );
    }
    return parsed.data;
  };
}

const provider = z.enum(PROVIDERS);
const epochMs = z.number().int();

const terminatedRun = z.strictObject({
  exitCode: z.number().int(),
  reason: z.string(),
  message: z.string().optional(),
  startedAt: epochMs.optional(),
  finishedAt: epochMs,
});

const podRecord = z.strictObject({
  podUid: z.string(),
  namespace: z.string(),
  name: z.string(),
  provider,
  stage: z.enum(['pending', 'creating', 'starting', 'running', 'releasing', 'terminating', 'finished']),
  attempts: z.number().int().nonnegative(),
  intent: z
    .strictObject({
      attempt: z.number().int(),
      offerId: z.string(),
      machineId: z.string().optional(),
      gpuName: z.string().optional(),
      at: epochMs,
    })
    .optional(),
  instance: z
    .strictObject({
      id: z.string(),
      machineId: z.string().optional(),
      gpuName: z.string().optional(),
      gpuCount: z.number().optional(),
      pricePerHour: z.number().optional(),
      region: z.string().optional(),
      createdAt: epochMs,
    })
    .optional(),
  startedAt: epochMs.optional(),
  finishedAt: epochMs.optional(),
  exitCode: z.number().int().optional(),
  lastError: z.string().optional(),
  failureReason: z.string().optional(),
  restarts: z.number().int().nonnegative().optional(),
  agentRun: z.number().int().nonnegative().optional(),
  lastTerminated: terminatedRun.optional(),
  initRuns: z
    .array(
      z.strictObject({
        name: z.string(),
        restartCount: z.number().int().nonnegative(),
        state: z.enum(['running', 'terminated', 'waiting']),
        startedAt: epochMs.optional(),
        terminated: terminatedRun.optional(),
        backoffSeconds: z.number().int().nonnegative().optional(),
        ready: z.boolean().optional(),
      }),
    )
    .optional(),
  backoff: z.strictObject({ seconds: z.number().int().nonnegative(), until: epochMs }).optional(),
  ready: z.boolean().optional(),
  retryAt: epochMs.optional(),
  retryBackoffMs: z.number().int().nonnegative().optional(),
  statusCredentialHash: z.string().optional(),
  agentToken: z.strictObject({ hash: z.string(), instanceBound: z.boolean().optional() }).optional(),
  vpnAddress: z.string().optional(),
  launch: z.enum(['agent', 'plain']).optional(),
  version: z.number().int().positive(),
  updatedAt: epochMs,
});

const ban = z.strictObject({
  provider,
  machineId: z.string(),
  expiresAt: epochMs,
  reason: z.string(),
  createdAt: epochMs,
});

const lease = z.strictObject({ name: z.string(), owner: z.string(), expiresAt: epochMs });

const address = z.strictObject({
  address: z.string(),
  podUid: z.string(),
  publicKey: z.string().optional(),
  egress: z.array(z.string()).optional(),
  allocatedAt: epochMs,
});

const token = z.strictObject({
  hash: z.string(),
  podUid: z.string(),
  instanceId: z.string().optional(),
  expiresAt: epochMs,
  usedAt: epochMs.optional(),
});

const logEntries = z.array(z.strictObject({ t: z.string(), s: z.enum(['stdout', 'stderr']), l: z.string() }));

/**
 * A run's lines are stored as one string attribute (their JSON), not a list of maps: a map per
 * line would cost its three attribute names and per-element overhead again for each of up to
 * 5000 lines, so the item's size is the JSON's size (≤ 80 KiB per run, bounded by the endpoint).
 */
const storedRun = z.strictObject({
  run: z.number().int().nonnegative(),
  entries: z.string().transform((text, ctx) => {
    try {
      const parsed = logEntries.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'entries are not a JSON array of log lines' });
    return z.NEVER;
  }),
  dropped: z.number().int().nonnegative(),
  savedAt: epochMs,
});

const logTail = z.strictObject({
  podUid: z.string(),
  container: z.string(),
  current: storedRun,
  previous: storedRun.optional(),
});

/** A tail as stored: each run's lines as their JSON text (see `storedRun`). */
export function encodeLogTail(tail: LogTail): object {
  const run = (r: LogRun) => ({ ...r, entries: JSON.stringify(r.entries) });
  return {
    podUid: tail.podUid,
    container: tail.container,
    current: run(tail.current),
    ...(tail.previous === undefined ? {} : { previous: run(tail.previous) }),
  };
}

const kubeletAddress = z.strictObject({
  ip: z.string(),
  port: z.number().int(),
  reportedAt: epochMs,
});

// The casts only reconcile zod's `T | undefined` optionals with exactOptionalPropertyTypes;
// the schemas are the same shapes as the interfaces in store.ts.
export const decode = {
  pod: decoder('pod', podRecord) as (item: Item) => PodRecord,
  ban: decoder('ban', ban) as (item: Item) => Ban,
  lease: decoder('lease', lease) as (item: Item) => Lease,
  address: decoder('address', address) as (item: Item) => AddressAllocation,
  token: decoder('token', token) as (item: Item) => BootstrapToken,
  logTail: decoder('log tail', logTail) as (item: Item) => LogTail,
  kubeletAddress: decoder('kubelet address', kubeletAddress) as (item: Item) => KubeletAddress,
};
