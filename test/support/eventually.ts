import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** what is awaited, for the failure message */
  what: string;
  /** @default 60_000 */
  timeoutMs?: number;
  /** @default 250 */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a value other than `undefined` and returns that value.
 * For waiting on controllers (eventual consistency), not for asserting speed: the timeout
 * only bounds a hang. On timeout the error carries the last observation from `describe`.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  options: EventuallyOptions & { describe?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(options.intervalMs ?? 250);
  }
  const observed =
    options.describe === undefined ? '' : `; last observed: ${await options.describe().catch(String)}`;
  throw new Error(`timed out waiting for ${options.what}${observed}`, { cause: lastError });
}
