import { describe, expect, it } from 'vitest';
import { isAnexError } from '../../../lib/errors.ts';
import { IntervalPacer, paceScaleFromEnv } from '../../../lib/providers/pacing/interval-pacer.ts';
import { MemoryPaceLedger } from '../../../lib/state/memory-pace.ts';

/** A pacer on a hand-moved clock whose sleeps advance it; returns when each request went. */
function aPacer(options: { scale?: number; lateOnce?: number } = {}) {
  let now = 1_000_000;
  let late = options.lateOnce ?? 0;
  const sent: number[] = [];
  const pacer = new IntervalPacer({
    prefix: 'vendor',
    rules: { create: { intervalMs: 4_500, penaltyMs: 12_000 }, show: { intervalMs: 2_000 } },
    ledger: new MemoryPaceLedger(),
    guardMs: () => 0,
    now: () => now,
    sleep: async (ms) => {
      now += ms + late;
      late = 0;
    },
    ...(options.scale === undefined ? {} : { scale: options.scale }),
  });
  const send = async (endpoint: string, deadline?: number) => {
    await pacer.acquire(endpoint, { deadline });
    sent.push(now);
  };
  return { pacer, send, sent, start: now, advance: (ms: number) => (now += ms), now: () => now };
}

describe('IntervalPacer', () => {
  it('sends a free endpoint at once and the next ones an interval apart, each endpoint on its own', async () => {
    const { send, sent, start } = aPacer();
    await send('create');
    await send('create');
    await send('show');
    await send('create');
    expect(sent.map((t) => t - start)).toEqual([0, 4_500, 4_500, 9_000]);
  });

  it('moves the next request after one that went out late (the vendor measures arrivals)', async () => {
    const { send, sent, start } = aPacer({ lateOnce: 300 });
    await send('create');
    // Its slot is 4.5 s, but it wakes 300 ms late: the next one goes 4.5 s after that.
    await send('create');
    await send('create');
    expect(sent.map((t) => t - start)).toEqual([0, 4_800, 9_300]);
  });

  it('leaves endpoints without a rule unpaced', async () => {
    const { send, sent, start } = aPacer();
    await send('other');
    await send('other');
    expect(sent.map((t) => t - start)).toEqual([0, 0]);
  });

  it('refuses, with nothing sent, a request whose slot lies past its deadline', async () => {
    const { send, sent, start } = aPacer();
    await send('create');
    const error = await send('create', start + 1_000).catch((e: unknown) => e);
    expect(isAnexError(error) && error.kind).toBe('rate-limited');
    expect(String(error)).toContain('nothing was sent');
    expect(sent).toHaveLength(1);
    // The refused request took no slot: the next one goes on the first free one.
    await send('create');
    expect(sent.map((t) => t - start)).toEqual([0, 4_500]);
  });

  it('holds the endpoint back for the penalty after a 429, and one interval where there is none', async () => {
    const { pacer, send, sent, now } = aPacer();
    const t0 = now();
    await pacer.observe('create', { status: 429 });
    await pacer.observe('show', { status: 429 });
    await pacer.observe('show', { status: 200 });
    await send('create');
    await send('show');
    expect(sent.map((t) => t - t0)).toEqual([12_000, 12_000]);
    expect([
      pacer.minRetryDelayMs('create'),
      pacer.minRetryDelayMs('show'),
      pacer.minRetryDelayMs('x'),
    ]).toEqual([12_000, 2_000, 0]);
  });

  it('scales intervals and penalties (simulators in tests)', async () => {
    const { pacer, send, sent, start } = aPacer({ scale: 0.1 });
    await send('create');
    await send('create');
    expect(sent.map((t) => t - start)).toEqual([0, 450]);
    expect(pacer.minRetryDelayMs('create')).toBe(1_200);
  });

  it.each([0, -1, 2, Number.NaN])('refuses the scale %s', (scale) => {
    expect(() => aPacer({ scale })).toThrow('is not in (0, 1]');
  });
});

describe('paceScaleFromEnv', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['0.05', 0.05],
    ['1', 1],
  ])('reads %j as %s', (value, expected) => {
    expect(paceScaleFromEnv({ ANEX_SIM_PACE_SCALE: value })).toBe(expected);
  });

  it.each(['0', '2', 'fast'])('names the variable and the accepted form for %j', (value) => {
    expect(() => paceScaleFromEnv({ ANEX_SIM_PACE_SCALE: value })).toThrow(
      /ANEX_SIM_PACE_SCALE: .* is not a factor in \(0, 1\]/,
    );
  });
});
