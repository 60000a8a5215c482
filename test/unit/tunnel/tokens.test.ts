import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { issueBootstrapToken, redeemBootstrapToken, sha256Hex } from '../../../lib/tunnel/tokens.ts';

const NOW = 1_800_000_000_000;

describe('issueBootstrapToken', () => {
  it('stores only the SHA-256 of a 256-bit base64url token, bound to the pod and instance', async () => {
    const store = new MemoryStore();
    const issued = await issueBootstrapToken(store, {
      podUid: 'pod-a',
      instanceId: 'i-1',
      now: NOW,
      ttlMs: 60_000,
    });
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(issued.token, 'base64url')).toHaveLength(32);
    expect(issued.record).toEqual({
      hash: sha256Hex(issued.token),
      podUid: 'pod-a',
      instanceId: 'i-1',
      expiresAt: NOW + 60_000,
    });
    expect(JSON.stringify(issued.record)).not.toContain(issued.token);
  });

  it('never issues the same token twice', async () => {
    const store = new MemoryStore();
    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => issueBootstrapToken(store, { podUid: 'p', now: NOW })),
    );
    expect(new Set(tokens.map((t) => t.token)).size).toBe(50);
  });
});

describe('redeemBootstrapToken', () => {
  async function issued(options: { instanceId?: string } = {}) {
    const store = new MemoryStore();
    const { token } = await issueBootstrapToken(store, {
      podUid: 'pod-a',
      now: NOW,
      ttlMs: 60_000,
      ...options,
    });
    return { store, token };
  }

  it('accepts the right token once', async () => {
    const { store, token } = await issued();
    expect(await redeemBootstrapToken(store, token, { podUid: 'pod-a', now: NOW + 1 })).toMatchObject({
      outcome: 'ok',
    });
  });

  it.each([
    ['a wrong token', { token: 'x'.repeat(43) }, 'unknown'],
    ['a malformed token', { token: 'not a token' }, 'malformed'],
    ['an expired token', { now: NOW + 60_000 }, 'expired'],
    ["another pod's token", { podUid: 'pod-b' }, 'wrong-pod'],
  ])('rejects %s', async (_label, change, reason) => {
    const { store, token } = await issued();
    const presented = 'token' in change ? change.token : token;
    const result = await redeemBootstrapToken(store, presented, {
      podUid: 'podUid' in change ? change.podUid : 'pod-a',
      now: 'now' in change ? change.now : NOW + 1,
    });
    expect(result).toEqual({ outcome: 'rejected', reason });
  });

  it('rejects a replayed token', async () => {
    const { store, token } = await issued();
    await redeemBootstrapToken(store, token, { podUid: 'pod-a', now: NOW + 1 });
    expect(await redeemBootstrapToken(store, token, { podUid: 'pod-a', now: NOW + 2 })).toEqual({
      outcome: 'rejected',
      reason: 'used',
    });
  });

  it('rejects a token bound to another instance, and burns it', async () => {
    const { store, token } = await issued({ instanceId: 'i-1' });
    expect(
      await redeemBootstrapToken(store, token, { podUid: 'pod-a', instanceId: 'i-2', now: NOW + 1 }),
    ).toEqual({
      outcome: 'rejected',
      reason: 'wrong-instance',
    });
    expect(
      await redeemBootstrapToken(store, token, { podUid: 'pod-a', instanceId: 'i-1', now: NOW + 2 }),
    ).toEqual({
      outcome: 'rejected',
      reason: 'used',
    });
  });
});
