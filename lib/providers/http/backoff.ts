/** Backoff schedule shared by every provider client. */
export interface BackoffPolicy {
  /** First retry waits up to this long (full jitter), doubling per attempt. */
  baseDelayMs: number;
  /** Upper bound of one computed wait. */
  maxDelayMs: number;
}

/**
 * "Full jitter" (AWS architecture blog): a uniformly random wait in [0, min(max, base·2^n)],
 * so clients that failed together do not retry together.
 */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date. Returns
 * milliseconds to wait (never negative), or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
