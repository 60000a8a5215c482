import { describe, expect, it } from 'vitest';
import { checkTickTiming, type TickTiming, tickGap } from '../../infra/tick-timing.ts';
import { invalidInputIssues } from '../support/invalid-input.ts';
import { synthStack } from './stack-fixture.ts';

/** The stack's defaults; each case changes what it tests. */
function timing(overrides: Partial<TickTiming> = {}): TickTiming {
  return {
    windowSeconds: 50,
    timeoutSeconds: 55,
    deadlineMarginSeconds: 5,
    reservedConcurrency: 1,
    environment: {},
    ...overrides,
  };
}

const issuesOf = invalidInputIssues;

describe('tick timing (docs/adr/0002-heartbeat.md)', () => {
  it.each<[string, Partial<TickTiming>, number, number]>([
    // last beat at 40 s; next tick's first beat by 60 + 5 s
    ['defaults', {}, 25, 40],
    // a timeout shorter than the window ends the beats at its deadline (45 − 5 s → last beat at 30 s)
    ['window cut by the deadline', { timeoutSeconds: 45 }, 35, 40],
    // overlapping ticks: the next one beats while this one still does
    ['overlapping window', { windowSeconds: 75, timeoutSeconds: 85, reservedConcurrency: 2 }, 10, 40],
    ['faster heartbeat', { environment: { ANEX_HEARTBEAT_INTERVAL: '5s' } }, 20, 40],
  ])('%s: worst gap %i s within the %i s lease', (_, overrides, worst, budget) => {
    expect(checkTickTiming(timing(overrides))).toEqual({
      worstGapSeconds: worst,
      budgetSeconds: budget,
      intervalSeconds: overrides.environment?.ANEX_HEARTBEAT_INTERVAL === '5s' ? 5 : 10,
    });
  });

  it.each<[string, Partial<TickTiming>, string]>([
    ['window too short', { windowSeconds: 20 }, 'anex:tickWindowSeconds=20'],
    [
      'lease too short for the default window',
      { environment: { ANEX_LEASE_DURATION: '20s' } },
      '20 s duration',
    ],
    [
      'timeout past the next tick with reserved concurrency 1',
      { timeoutSeconds: 70 },
      'anex:tickTimeoutSeconds=70',
    ],
  ])('refuses %s, naming the setting', (_, overrides, named) => {
    const issues = issuesOf(() => checkTickTiming(timing(overrides)));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(named);
  });

  it('says which window would do', () => {
    const [issue] = issuesOf(() => checkTickTiming(timing({ windowSeconds: 20 })));
    // 60 s period + 5 s start delay + 10 s interval − 40 s lease
    expect(issue).toContain('a window of at least 35 s');
    expect(tickGap(timing({ windowSeconds: 35 })).worstGapSeconds).toBe(40);
  });

  it('allows a long timeout when the tick reserves no concurrency (nothing throttles the next)', () => {
    expect(checkTickTiming(timing({ timeoutSeconds: 70, reservedConcurrency: 0 })).worstGapSeconds).toBe(25);
  });

  it('stops cdk synth on a bad combination', () => {
    expect(() => synthStack({ 'anex:tickTimeoutSeconds': '70' })).toThrow(/anex:tickReservedConcurrency=1/);
  });
});
