import { loadConfigFromEnv } from '../lib/config/config.ts';
import { InvalidInputError } from '../lib/errors.ts';

/**
 * The tick's timing rules (docs/adr/0002-heartbeat.md, "Window and concurrency"), checked at
 * synth so a deployment that would let the virtual nodes go NotReady never reaches AWS.
 *
 * Numbers, all in seconds:
 * - the schedule fires every {@link SCHEDULE_PERIOD_SECONDS};
 * - an invocation may start up to {@link START_DELAY_SECONDS} after its scheduled time
 *   (Scheduler delivery plus a cold start; tick is warm almost always);
 * - the heartbeat renews every `interval` and starts no renewal at or after
 *   min(window, timeout − deadline margin), so its last renewal is at least that minus one
 *   interval after the start;
 * - the renew budget is the Lease's `leaseDurationSeconds` (40 s by default), under the node
 *   monitor grace period (50 s on Kubernetes ≥ 1.32): no gap between two renewals may exceed it.
 */
export const SCHEDULE_PERIOD_SECONDS = 60;
export const START_DELAY_SECONDS = 5;

export interface TickTiming {
  windowSeconds: number;
  timeoutSeconds: number;
  deadlineMarginSeconds: number;
  /** 0 = unreserved (no throttling by our own reservation) */
  reservedConcurrency: number;
  /** the reconciler settings given to the functions (ANEX_HEARTBEAT_INTERVAL, ANEX_LEASE_DURATION) */
  environment: Readonly<Record<string, string>>;
}

export interface TickGap {
  /** the longest time between two lease renewals, consecutive invocations included */
  worstGapSeconds: number;
  /** the Lease duration the gap must stay within */
  budgetSeconds: number;
  /** the heartbeat interval (ANEX_HEARTBEAT_INTERVAL) */
  intervalSeconds: number;
}

/** The worst renewal gap of a timing, without judging it. */
export function tickGap(timing: TickTiming): TickGap {
  const config = loadConfigFromEnv(timing.environment);
  const interval = config.heartbeatIntervalMs / 1000;
  const beatsUntil = Math.min(timing.windowSeconds, timing.timeoutSeconds - timing.deadlineMarginSeconds);
  const lastBeat = Math.max(0, beatsUntil - interval);
  const acrossInvocations = SCHEDULE_PERIOD_SECONDS + START_DELAY_SECONDS - lastBeat;
  return {
    worstGapSeconds: Math.max(interval, acrossInvocations),
    budgetSeconds: config.leaseDurationSeconds,
    intervalSeconds: interval,
  };
}

/**
 * Throws {@link InvalidInputError} naming the context keys when
 * - the worst gap exceeds the Lease duration, or
 * - with reserved concurrency 1, an invocation can still run when the next one is due: that
 *   one would be throttled, wait in Lambda's async queue (≤ 1 min, then dropped) and leave a
 *   gap of up to two minutes.
 */
export function checkTickTiming(timing: TickTiming): TickGap {
  const gap = tickGap(timing);
  const issues: string[] = [];
  if (gap.worstGapSeconds > gap.budgetSeconds) {
    const minWindow = SCHEDULE_PERIOD_SECONDS + START_DELAY_SECONDS + gap.intervalSeconds - gap.budgetSeconds;
    issues.push(
      `anex:tickWindowSeconds=${timing.windowSeconds} with anex:tickTimeoutSeconds=${timing.timeoutSeconds}: ` +
        `the node lease could go ${gap.worstGapSeconds} s unrenewed between ticks, more than its ` +
        `${gap.budgetSeconds} s duration (ANEX_LEASE_DURATION); use a window of at least ${minWindow} s ` +
        `and a timeout of at least the window + ${timing.deadlineMarginSeconds} s`,
    );
  }
  const latestEnd = START_DELAY_SECONDS + timing.timeoutSeconds;
  if (timing.reservedConcurrency === 1 && latestEnd > SCHEDULE_PERIOD_SECONDS) {
    issues.push(
      `anex:tickTimeoutSeconds=${timing.timeoutSeconds} with anex:tickReservedConcurrency=1: a tick could ` +
        `still run ${latestEnd} s after its scheduled time, when the next one is due, and the next would be ` +
        `throttled; use a timeout of at most ${SCHEDULE_PERIOD_SECONDS - START_DELAY_SECONDS} s, or reserve 0 or ≥ 2`,
    );
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return gap;
}
