import { AnexError } from '../errors.ts';
import type { BootstrapToken } from './store.ts';

/**
 * Outcomes both Store implementations decide the same way, in one place so MemoryStore and
 * DynamoStore cannot drift: the refusal order for tokens and the errors of lost conditions.
 */

/**
 * Why a token cannot be consumed at `now`, in the order both stores check it: a token
 * already used says so even once expired (it is the more useful answer to the agent).
 */
export function refusal(
  token: BootstrapToken | undefined,
  now: number,
): 'unknown' | 'used' | 'expired' | undefined {
  if (token === undefined) return 'unknown';
  if (token.usedAt !== undefined) return 'used';
  if (token.expiresAt <= now) return 'expired';
  return undefined;
}

export function podConflict(podUid: string, why: string): AnexError {
  return new AnexError(`pod record ${podUid} was changed by someone else (${why}): read it again`, {
    kind: 'conflict',
    retryable: true,
  });
}

export function addressNotHeld(address: string, podUid: string): AnexError {
  return new AnexError(
    `VPN address ${address} is not held by pod ${podUid}: claim it before setting its peer key`,
    {
      kind: 'conflict',
    },
  );
}
