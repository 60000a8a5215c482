import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import {
  storeRateLimiter,
  tokenBucketLimiter,
  withinLimit,
} from '../../../lib/tunnel/endpoint/rate-limit.ts';

const MINUTE = 60_000;
const T0 = 1_800_000_000_000; // a whole minute

describe('storeRateLimiter', () => {
  it.each([
    // [label, times of the requests (ms after T0), allowed pattern]
    ['within one window: the limit, then refusals', [0, 1, 2, 59_999], [true, true, false, false]],
    ['a new window allows again', [0, 1, 2, MINUTE], [true, true, false, true]],
    [
      'the boundary is whole minutes, not the first request',
      [MINUTE - 2, MINUTE - 1, MINUTE],
      [true, true, true],
    ],
  ] as const)('%s', async (_label, times, allowed) => {
    const limiter = storeRateLimiter(new MemoryStore(), { limit: 2, windowMs: MINUTE });
    const seen: boolean[] = [];
    for (const t of times) seen.push(await limiter.take('status:p', T0 + t));
    expect(seen).toEqual(allowed);
  });
});

describe('withinLimit', () => {
  it('asks the memory limiter before authentication and the shared one after (none = allowed)', async () => {
    const asked: string[] = [];
    const spy = (name: string, answer: boolean) => ({
      take: async (key: string) => {
        asked.push(`${name}:${key}`);
        return answer;
      },
    });
    const deps = { rateLimiter: spy('memory', true), sharedLimiter: spy('table', false), now: () => T0 };
    expect(await withinLimit(deps, 'k', 'before-auth')).toBe(true);
    expect(await withinLimit(deps, 'k', 'after-auth')).toBe(false);
    expect(asked).toEqual(['memory:k', 'table:k']);
    expect(await withinLimit({ rateLimiter: tokenBucketLimiter(), now: () => T0 }, 'k', 'after-auth')).toBe(
      true,
    );
  });
});
