import { beforeEach, describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import {
  APP_CONTAINER,
  type Ban,
  type BootstrapToken,
  type LogRun,
  type PodWrite,
  type Store,
} from '../../../lib/state/store.ts';

/**
 * The Store contract (lib/state/store.ts) as tests, run against every implementation:
 * MemoryStore (unit) and DynamoStore over dynalite (integration). `makeStore` returns an
 * empty store for each test.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name} (Store contract)`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });

    describePods(() => store);
    describeBans(() => store);
    describeLeases(() => store);
    describeAddresses(() => store);
    describeTokens(() => store);
    describeRates(() => store);
    describeLogTails(() => store);
    describeKubeletAddress(() => store);
  });
}

const T0 = 1_800_000_000_000;

export function aPodWrite(overrides: Partial<PodWrite> = {}): PodWrite {
  return {
    podUid: 'uid-1',
    namespace: 'default',
    name: 'trainer',
    provider: 'vastai',
    stage: 'pending',
    attempts: 0,
    ...overrides,
  };
}

/**
 * Every field set, nested ones included. `Required` makes a field added to PodRecord fail
 * to compile here until it is added — and then the round trip proves each store (the
 * DynamoDB codec's schema in particular) keeps it.
 */
export function aFullPodWrite(): Required<PodWrite> {
  return {
    podUid: 'uid-1',
    namespace: 'default',
    name: 'trainer',
    provider: 'vastai',
    stage: 'running',
    attempts: 2,
    intent: { attempt: 2, offerId: '991', machineId: '4242', at: T0 - 10 },
    instance: {
      id: 'i-1',
      machineId: '4242',
      gpuName: 'RTX 4090',
      gpuCount: 2,
      pricePerHour: 0.71,
      region: 'europe',
      createdAt: T0,
    } satisfies Required<NonNullable<PodWrite['instance']>>,
    agentToken: { hash: 'ab'.repeat(32), instanceBound: true },
    startedAt: T0 + 5,
    finishedAt: T0 + 50,
    exitCode: 3,
    lastError: 'host fault on machine 17',
    failureReason: 'ProvisioningFailed',
    restarts: 1,
    agentRun: 4,
    lastTerminated: {
      exitCode: 137,
      reason: 'Error',
      message: 'The container failed its liveness probe and was restarted',
      startedAt: T0 + 6,
      finishedAt: T0 + 40,
    } satisfies Required<NonNullable<PodWrite['lastTerminated']>>,
    backoff: { seconds: 40, until: T0 + 80 },
    ready: false,
    initRuns: [
      {
        name: 'proxy',
        restartCount: 2,
        state: 'running',
        startedAt: T0 + 3,
        terminated: {
          exitCode: 1,
          reason: 'Error',
          message: 'crashed',
          startedAt: T0 + 1,
          finishedAt: T0 + 2,
        },
        backoffSeconds: 10,
        ready: true,
      } satisfies Required<NonNullable<PodWrite['initRuns']>[number]>,
    ],
    retryAt: T0 + 300_000,
    retryBackoffMs: 300_000,
    statusCredentialHash: 'cd'.repeat(32),
    vpnAddress: '10.99.0.7',
    launch: 'agent',
  };
}

export function aBan(overrides: Partial<Ban> = {}): Ban {
  return {
    provider: 'vastai',
    machineId: '4242',
    expiresAt: T0 + 3_600_000,
    reason: 'did not start within 10 minutes',
    createdAt: T0,
    ...overrides,
  };
}

export function aToken(overrides: Partial<BootstrapToken> = {}): BootstrapToken {
  return { hash: 'ab'.repeat(32), podUid: 'uid-1', expiresAt: T0 + 600_000, ...overrides };
}

async function conflictOf(promise: Promise<unknown>): Promise<AnexError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AnexError);
  expect((error as AnexError).kind).toBe('conflict');
  return error as AnexError;
}

function describePods(store: () => Store): void {
  describe('pods', () => {
    it('creates a record at version 1 and reads it back with every field', async () => {
      const write = aFullPodWrite();
      const stored = await store().putPod(write, { expectedVersion: undefined, now: T0 });
      expect(stored).toEqual({ ...write, version: 1, updatedAt: T0 });
      expect(await store().getPod('uid-1')).toEqual(stored);
    });

    it('returns undefined for a pod it never stored', async () => {
      expect(await store().getPod('nope')).toBeUndefined();
    });

    it('replaces a record when the expected version matches and bumps the version', async () => {
      const first = await store().putPod(aPodWrite(), { expectedVersion: undefined, now: T0 });
      const second = await store().putPod(aPodWrite({ stage: 'creating', attempts: 1 }), {
        expectedVersion: first.version,
        now: T0 + 1,
      });
      expect(second).toMatchObject({ stage: 'creating', attempts: 1, version: 2, updatedAt: T0 + 1 });
      expect(await store().getPod('uid-1')).toEqual(second);
    });

    it('drops optional fields that a replacement leaves out', async () => {
      const first = await store().putPod(aPodWrite({ lastError: 'boom', exitCode: 3 }), {
        expectedVersion: undefined,
        now: T0,
      });
      await store().putPod(aPodWrite(), { expectedVersion: first.version, now: T0 + 1 });
      const read = await store().getPod('uid-1');
      expect(read).not.toHaveProperty('lastError');
      expect(read).not.toHaveProperty('exitCode');
    });

    it.each([
      ['creating a record that exists', 'exists', undefined],
      ['replacing with a stale version', 'exists', 7],
      ['replacing a record that does not exist', 'absent', 1],
    ] as const)('fails with conflict when %s', async (_, state, expectedVersion) => {
      if (state === 'exists') await store().putPod(aPodWrite(), { expectedVersion: undefined, now: T0 });
      await conflictOf(store().putPod(aPodWrite({ stage: 'creating' }), { expectedVersion, now: T0 + 1 }));
      const read = await store().getPod('uid-1');
      expect(read?.stage).toBe(state === 'exists' ? 'pending' : undefined);
    });

    it('lets exactly one of two writers holding the same version win', async () => {
      const first = await store().putPod(aPodWrite(), { expectedVersion: undefined, now: T0 });
      const results = await Promise.allSettled([
        store().putPod(aPodWrite({ stage: 'creating' }), { expectedVersion: first.version, now: T0 + 1 }),
        store().putPod(aPodWrite({ stage: 'terminating' }), { expectedVersion: first.version, now: T0 + 1 }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    });

    it('lists every pod record', async () => {
      for (const uid of ['c', 'a', 'b']) {
        await store().putPod(aPodWrite({ podUid: uid, name: `pod-${uid}` }), {
          expectedVersion: undefined,
          now: T0,
        });
      }
      const listed = await store().listPods();
      expect(listed.map((p) => p.podUid).sort()).toEqual(['a', 'b', 'c']);
    });

    it('deletes idempotently', async () => {
      await store().putPod(aPodWrite(), { expectedVersion: undefined, now: T0 });
      await store().deletePod('uid-1');
      await store().deletePod('uid-1');
      expect(await store().getPod('uid-1')).toBeUndefined();
      expect(await store().listPods()).toEqual([]);
    });

    it('does not let a caller change a stored record through a returned object', async () => {
      const stored = await store().putPod(aPodWrite(), { expectedVersion: undefined, now: T0 });
      stored.stage = 'finished';
      expect((await store().getPod('uid-1'))?.stage).toBe('pending');
    });
  });
}

function describeBans(store: () => Store): void {
  describe('bans', () => {
    it('lists only bans in force at now, for the given provider', async () => {
      await store().putBan(aBan({ machineId: 'live', expiresAt: T0 + 10 }));
      await store().putBan(aBan({ machineId: 'edge', expiresAt: T0 }));
      await store().putBan(aBan({ machineId: 'old', expiresAt: T0 - 1 }));
      await store().putBan(aBan({ provider: 'runpod', machineId: 'other', expiresAt: T0 + 10 }));
      const bans = await store().listBans('vastai', T0);
      expect(bans).toEqual([aBan({ machineId: 'live', expiresAt: T0 + 10 })]);
    });

    it.each([
      ['a later expiry extends the ban', T0 + 2_000, T0 + 2_000],
      ['an earlier expiry leaves it as it is', T0 + 500, T0 + 1_000],
    ])('on a second put, %s', async (_, second, expected) => {
      await store().putBan(aBan({ expiresAt: T0 + 1_000 }));
      await store().putBan(aBan({ expiresAt: second, reason: 'again' }));
      const [ban] = await store().listBans('vastai', T0);
      expect(ban?.expiresAt).toBe(expected);
    });

    it('deletes a ban and says whether there was one', async () => {
      await store().putBan(aBan());
      expect(await store().deleteBan('vastai', '4242')).toBe(true);
      expect(await store().deleteBan('vastai', '4242')).toBe(false);
      expect(await store().listBans('vastai', T0)).toEqual([]);
    });
  });
}

function describeLeases(store: () => Store): void {
  describe('leases', () => {
    const ttl = { now: T0, ttlMs: 30_000 };

    it.each([
      ['free', undefined, T0, true],
      ['held by the same owner (renewal)', 'a', T0 + 10_000, true],
      ['held by another owner', 'b', T0 + 10_000, false],
      ['held by another owner but expired', 'b', T0 + 30_000, true],
    ] as const)('acquires a lease that is %s: %s', async (_, holder, now, expected) => {
      if (holder !== undefined) await store().acquireLease('pod/uid-1', holder, ttl);
      expect(await store().acquireLease('pod/uid-1', 'a', { now, ttlMs: 30_000 })).toBe(expected);
    });

    it('lets at most one of two concurrent callers win', async () => {
      const results = await Promise.all(
        ['a', 'b', 'c'].map((owner) => store().acquireLease('tick', owner, ttl)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('extends the lease on renewal', async () => {
      await store().acquireLease('tick', 'a', ttl);
      await store().acquireLease('tick', 'a', { now: T0 + 20_000, ttlMs: 30_000 });
      expect(await store().acquireLease('tick', 'b', { now: T0 + 40_000, ttlMs: 30_000 })).toBe(false);
    });

    it('releases only for the holder', async () => {
      await store().acquireLease('tick', 'a', ttl);
      await store().releaseLease('tick', 'b');
      expect(await store().acquireLease('tick', 'b', ttl)).toBe(false);
      await store().releaseLease('tick', 'a');
      expect(await store().acquireLease('tick', 'b', ttl)).toBe(true);
    });

    it('releases a lease nobody holds without complaint', async () => {
      await store().releaseLease('nothing', 'a');
      expect(await store().acquireLease('nothing', 'a', ttl)).toBe(true);
    });
  });
}

function describeAddresses(store: () => Store): void {
  describe('VPN addresses', () => {
    const at = { now: T0 };

    it('claims a free address once and refuses it to another pod', async () => {
      expect(await store().claimAddress('10.99.0.2', 'uid-1', at)).toBe(true);
      expect(await store().claimAddress('10.99.0.2', 'uid-2', at)).toBe(false);
      expect(await store().listAddresses()).toEqual([
        { address: '10.99.0.2', podUid: 'uid-1', allocatedAt: T0 },
      ]);
    });

    it('claims again for the same pod without changing the allocation', async () => {
      await store().claimAddress('10.99.0.2', 'uid-1', at);
      await store().setPeerKey('10.99.0.2', 'uid-1', 'pubkey=');
      expect(await store().claimAddress('10.99.0.2', 'uid-1', { now: T0 + 5 })).toBe(true);
      expect(await store().listAddresses()).toEqual([
        { address: '10.99.0.2', podUid: 'uid-1', allocatedAt: T0, publicKey: 'pubkey=' },
      ]);
    });

    it("keeps a peer's allowed destinations with its key, and drops them with a key set without", async () => {
      await store().claimAddress('10.99.0.2', 'uid-1', at);
      await store().setPeerKey('10.99.0.2', 'uid-1', 'pubkey=', ['web.ml.svc:80', '10.1.0.0/16:443']);
      expect(await store().listAddresses()).toEqual([
        {
          address: '10.99.0.2',
          podUid: 'uid-1',
          allocatedAt: T0,
          publicKey: 'pubkey=',
          egress: ['web.ml.svc:80', '10.1.0.0/16:443'],
        },
      ]);
      await store().setPeerKey('10.99.0.2', 'uid-1', 'other=');
      expect(await store().listAddresses()).toEqual([
        { address: '10.99.0.2', podUid: 'uid-1', allocatedAt: T0, publicKey: 'other=' },
      ]);
    });

    it('lets exactly one of concurrent claimants win', async () => {
      const results = await Promise.all(
        ['u1', 'u2', 'u3'].map((uid) => store().claimAddress('10.99.0.9', uid, at)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('refuses to set a peer key on an address the pod does not hold', async () => {
      await store().claimAddress('10.99.0.2', 'uid-1', at);
      await conflictOf(store().setPeerKey('10.99.0.2', 'uid-2', 'pubkey='));
      await conflictOf(store().setPeerKey('10.99.0.3', 'uid-1', 'pubkey='));
    });

    it("clears a peer's key and destinations for the holder only, keeping the address (ADR 0021)", async () => {
      await store().claimAddress('10.99.0.2', 'uid-1', at);
      await store().setPeerKey('10.99.0.2', 'uid-1', 'pubkey=', ['web.ml.svc:80']);
      await store().clearPeerKey('10.99.0.2', 'uid-2');
      await store().clearPeerKey('10.99.0.3', 'uid-1');
      expect((await store().listAddresses())[0]?.publicKey).toBe('pubkey=');
      await store().clearPeerKey('10.99.0.2', 'uid-1');
      await store().clearPeerKey('10.99.0.2', 'uid-1');
      expect(await store().listAddresses()).toEqual([
        { address: '10.99.0.2', podUid: 'uid-1', allocatedAt: T0 },
      ]);
    });

    it('releases only for the holder', async () => {
      await store().claimAddress('10.99.0.2', 'uid-1', at);
      await store().releaseAddress('10.99.0.2', 'uid-2');
      expect(await store().listAddresses()).toHaveLength(1);
      await store().releaseAddress('10.99.0.2', 'uid-1');
      await store().releaseAddress('10.99.0.2', 'uid-1');
      expect(await store().listAddresses()).toEqual([]);
      expect(await store().claimAddress('10.99.0.2', 'uid-2', at)).toBe(true);
    });
  });
}

function describeTokens(store: () => Store): void {
  describe('bootstrap tokens', () => {
    it('consumes a valid token once', async () => {
      await store().putToken(aToken({ instanceId: 'i-1' }));
      const first = await store().consumeToken(aToken().hash, { now: T0 });
      expect(first).toEqual({ outcome: 'ok', token: aToken({ instanceId: 'i-1', usedAt: T0 }) });
      expect(await store().consumeToken(aToken().hash, { now: T0 + 1 })).toEqual({ outcome: 'used' });
    });

    it.each([
      ['unknown', 'ff'.repeat(32), T0],
      ['expired', aToken().hash, aToken().expiresAt],
      ['expired', aToken().hash, aToken().expiresAt + 1],
    ] as const)('answers %s for hash %s at %d', async (outcome, hash, now) => {
      await store().putToken(aToken());
      expect(await store().consumeToken(hash, { now })).toEqual({ outcome });
    });

    it('lets exactly one of concurrent consumers succeed', async () => {
      await store().putToken(aToken());
      const results = await Promise.all(
        [1, 2, 3].map(() => store().consumeToken(aToken().hash, { now: T0 })),
      );
      expect(results.map((r) => r.outcome).sort()).toEqual(['ok', 'used', 'used']);
    });
  });
}

function describeRates(store: () => Store): void {
  describe('rate-limit counts', () => {
    const window = { start: 1_800_000_000_000, ms: 60_000, limit: 3 };

    it('counts up to the limit in a window, then refuses; a new window starts afresh', async () => {
      const counted: boolean[] = [];
      for (let i = 0; i < 4; i += 1) counted.push(await store().countRequest('status:p1', window));
      expect(counted).toEqual([true, true, true, false]);
      expect(await store().countRequest('status:p1', { ...window, start: window.start + window.ms })).toBe(
        true,
      );
    });

    it('keeps keys apart', async () => {
      for (let i = 0; i < 3; i += 1) await store().countRequest('alive:p1', window);
      expect(await store().countRequest('alive:p1', window)).toBe(false);
      expect(await store().countRequest('alive:p2', window)).toBe(true);
    });

    it('never counts past the limit under concurrent requests', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store().countRequest('status:race', window)),
      );
      expect(results.filter(Boolean)).toHaveLength(3);
    });
  });

  describe('pace slots (ADR 0011)', () => {
    const t0 = 1_800_000_000_000;
    const pace = { intervalMs: 4_500, now: t0, latest: t0 + 60_000 };

    it('hands out now for a free key, then slots one interval apart', async () => {
      const slots = [];
      for (let i = 0; i < 3; i += 1) slots.push(await store().reserveSlot('vastai/create', pace));
      expect(slots).toEqual([
        { kind: 'reserved', at: t0 },
        { kind: 'reserved', at: t0 + 4_500 },
        { kind: 'reserved', at: t0 + 9_000 },
      ]);
    });

    it('is free again once its next slot has passed', async () => {
      await store().reserveSlot('vastai/show', { ...pace, intervalMs: 2_000 });
      expect(
        await store().reserveSlot('vastai/show', { ...pace, intervalMs: 2_000, now: t0 + 10_000 }),
      ).toEqual({
        kind: 'reserved',
        at: t0 + 10_000,
      });
    });

    it('takes no slot past `latest` and says when the key is free', async () => {
      const latest = t0 + 5_000;
      const answers = [];
      for (let i = 0; i < 3; i += 1)
        answers.push(await store().reserveSlot('vastai/destroy', { ...pace, latest }));
      expect(answers).toEqual([
        { kind: 'reserved', at: t0 },
        { kind: 'reserved', at: t0 + 4_500 },
        { kind: 'busy', freeAt: t0 + 9_000 },
      ]);
    });

    it('defers a key to a penalty, never earlier than it already was', async () => {
      await store().deferSlot('vastai/penalised', t0 + 12_000);
      await store().deferSlot('vastai/penalised', t0 + 1_000);
      expect(await store().reserveSlot('vastai/penalised', pace)).toEqual({
        kind: 'reserved',
        at: t0 + 12_000,
      });
    });

    it('gives concurrent callers distinct slots an interval apart', async () => {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => store().reserveSlot('vastai/race', { ...pace, intervalMs: 1_000 })),
      );
      const at = answers.map((a) => (a.kind === 'reserved' ? a.at : Number.NaN)).sort((a, b) => a - b);
      expect(at).toEqual(Array.from({ length: 8 }, (_, i) => t0 + i * 1_000));
    });
  });
}

function aRun(run: number, line = `line of run ${run}`): Omit<LogRun, 'savedAt'> {
  return {
    run,
    entries: [
      { t: '2026-12-01T10:00:00.123456789Z', s: 'stdout', l: line },
      { t: '2026-12-01T10:00:01.000000001Z', s: 'stderr', l: 'a "quoted" \\ line\twith\u0000 controls' },
    ],
    dropped: run,
  };
}

function describeLogTails(store: () => Store): void {
  describe('log tails (ADR 0023)', () => {
    const uid = 'uid-logs';

    it('keeps the newest two runs per container: a newer run pushes the current one to previous', async () => {
      const cases: { saves: number[]; outcomes: string[]; current: number; previous?: number }[] = [
        { saves: [0], outcomes: ['saved'], current: 0 },
        { saves: [0, 1], outcomes: ['saved', 'saved'], current: 1, previous: 0 },
        { saves: [0, 1, 2], outcomes: ['saved', 'saved', 'saved'], current: 2, previous: 1 },
        { saves: [0, 3], outcomes: ['saved', 'saved'], current: 3, previous: 0 },
        { saves: [1, 1], outcomes: ['saved', 'stale'], current: 1 },
        { saves: [2, 1], outcomes: ['saved', 'stale'], current: 2 },
        { saves: [0, 2, 1], outcomes: ['saved', 'saved', 'stale'], current: 2, previous: 0 },
      ];
      for (const [i, c] of cases.entries()) {
        const container = `c${i}`;
        const outcomes: string[] = [];
        for (const run of c.saves) {
          outcomes.push(await store().saveLogTail(uid, container, aRun(run), { now: T0 + run }));
        }
        const tail = await store().getLogTail(uid, container);
        expect({
          case: c.saves,
          outcomes,
          current: tail?.current.run,
          previous: tail?.previous?.run,
        }).toEqual({
          case: c.saves,
          outcomes: c.outcomes,
          current: c.current,
          previous: c.previous,
        });
      }
    });

    it('reads back every field of both runs, the text unchanged', async () => {
      await store().saveLogTail(uid, APP_CONTAINER, aRun(0, 'first ünïcödé ✓'), { now: T0 });
      await store().saveLogTail(uid, APP_CONTAINER, aRun(1), { now: T0 + 5 });
      expect(await store().getLogTail(uid, APP_CONTAINER)).toEqual({
        podUid: uid,
        container: APP_CONTAINER,
        current: { ...aRun(1), savedAt: T0 + 5 },
        previous: { ...aRun(0, 'first ünïcödé ✓'), savedAt: T0 },
      });
    });

    it('keeps containers and pods apart, and answers undefined for a tail never saved', async () => {
      await store().saveLogTail(uid, APP_CONTAINER, aRun(4), { now: T0 });
      await store().saveLogTail(uid, 'init', aRun(0), { now: T0 });
      expect((await store().getLogTail(uid, APP_CONTAINER))?.current.run).toBe(4);
      expect((await store().getLogTail(uid, 'init'))?.current.run).toBe(0);
      expect(await store().getLogTail(uid, 'other')).toBeUndefined();
      expect(await store().getLogTail('uid-else', APP_CONTAINER)).toBeUndefined();
    });

    it("deletes a pod's tails with its record, and only that pod's", async () => {
      await store().putPod(aPodWrite({ podUid: uid }), { expectedVersion: undefined, now: T0 });
      await store().saveLogTail(uid, APP_CONTAINER, aRun(0), { now: T0 });
      await store().saveLogTail(uid, 'sidecar', aRun(0), { now: T0 });
      await store().saveLogTail('uid-kept', APP_CONTAINER, aRun(0), { now: T0 });
      await store().deletePod(uid);
      expect(await store().getLogTail(uid, APP_CONTAINER)).toBeUndefined();
      expect(await store().getLogTail(uid, 'sidecar')).toBeUndefined();
      expect(await store().getPod(uid)).toBeUndefined();
      expect((await store().getLogTail('uid-kept', APP_CONTAINER))?.current.run).toBe(0);
    });

    it('lets the newest of concurrent saves end as the current run', async () => {
      const outcomes = await Promise.all(
        [1, 2, 3].map((run) => store().saveLogTail(uid, 'race', aRun(run), { now: T0 })),
      );
      expect(outcomes).toContain('saved');
      expect((await store().getLogTail(uid, 'race'))?.current.run).toBe(3);
    });

    it('holds a tail at the endpoint bounds (two runs of 80 KiB)', async () => {
      const line = 'x'.repeat(16 * 1024 - 1);
      const big: Omit<LogRun, 'savedAt'> = {
        run: 0,
        entries: Array.from({ length: 4 }, (_, i) => ({
          t: '2026-12-01T10:00:00Z',
          s: 'stdout',
          l: `${i}${line}`,
        })),
        dropped: 0,
      };
      await store().saveLogTail(uid, 'big', big, { now: T0 });
      await store().saveLogTail(uid, 'big', { ...big, run: 1 }, { now: T0 });
      const tail = await store().getLogTail(uid, 'big');
      expect(tail?.previous?.entries).toEqual(big.entries);
      expect(tail?.current.entries).toEqual(big.entries);
    });
  });
}

function describeKubeletAddress(store: () => Store): void {
  describe('kubelet API address (ADR 0023)', () => {
    it('answers undefined before any report, then the last one put', async () => {
      expect(await store().getKubeletAddress()).toBeUndefined();
      await store().putKubeletAddress({ ip: '10.0.0.7', port: 10250, reportedAt: T0 });
      await store().putKubeletAddress({ ip: '10.0.0.8', port: 10251, reportedAt: T0 + 1 });
      expect(await store().getKubeletAddress()).toEqual({ ip: '10.0.0.8', port: 10251, reportedAt: T0 + 1 });
    });
  });
}
