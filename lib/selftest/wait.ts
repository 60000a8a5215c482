import { setTimeout as sleep } from 'node:timers/promises';
import { isAnexError } from '../errors.ts';
import type { Instance } from '../providers/provider.ts';

/** A step that did not hold; its message is what the user reads. */
export class StepFailure extends Error {}

export interface PollOptions<T> {
  /** what is awaited, for messages: "the instance to run" */
  what: string;
  /** a value when done, undefined for "not yet"; a StepFailure ends the wait at once */
  probe: () => Promise<T | undefined>;
  /** more to say when the wait times out (the last state seen) */
  detail?: () => string;
  /** epoch ms past which no probe starts */
  until: number;
  /** why `until` is where it is, for the timeout message */
  why: string;
  pollMs: number;
  now: () => number;
  /** ends the wait early (the user's stop); unset for clean-up waits, which nothing stops */
  signal?: AbortSignal | undefined;
}

/**
 * Calls `probe` until it yields a value. A read that failed in a way worth repeating (5xx,
 * 429, a pacing slot past the deadline) is "not yet" and quoted if the wait times out.
 * @throws StepFailure on timeout or when `signal` aborts
 */
export async function pollUntil<T>(options: PollOptions<T>): Promise<T> {
  const { now, pollMs, signal } = options;
  const started = now();
  let readError = '';
  for (;;) {
    if (signal?.aborted) throw new StepFailure(stopMessage(options.what));
    let value: T | undefined;
    try {
      value = await options.probe();
    } catch (error) {
      if (error instanceof StepFailure || !isAnexError(error) || !error.retryable) throw error;
      readError = error.message;
    }
    if (value !== undefined) return value;
    if (now() + pollMs > options.until) {
      const waited = Math.round((now() - started) / 1000);
      const more = [options.detail?.() ?? '', readError === '' ? '' : `last read failed: ${readError}`];
      const said = more.filter((m) => m !== '').map((m) => `; ${m}`);
      throw new StepFailure(`waited ${waited} s for ${options.what} (${options.why})${said.join('')}`);
    }
    await sleep(pollMs, undefined, signal === undefined ? {} : { signal }).catch(() => {});
  }
}

/** A call that failed is tried again until `until`: in the clean-up, leaking is worse than waiting. */
export async function retryUntil<T>(
  call: () => Promise<T>,
  options: { until: number; pollMs: number; now: () => number },
): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (options.now() + options.pollMs > options.until) throw error;
      await sleep(options.pollMs);
    }
  }
}

export function stopMessage(what: string): string {
  return `interrupted while waiting for ${what}`;
}

/** An instance's state in a few words, the provider's reason included. */
export function describeState(instance: Instance): string {
  const s = instance.state;
  if (s.phase === 'failed') return `failed (${s.fault}): ${s.reason}`;
  if (s.phase === 'starting' && s.message) return `starting: ${s.message}`;
  if (s.phase === 'exited') return `exited${s.exitCode === undefined ? '' : ` with code ${s.exitCode}`}`;
  return s.phase;
}
