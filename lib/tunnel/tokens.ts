import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { BootstrapToken, TunnelStore } from '../state/store.ts';

/**
 * One-time bootstrap tokens (the only secret a rented instance receives up front) and the
 * per-pod status credentials handed out at bootstrap. Both are 256 random bits in base64url;
 * only their SHA-256 (hex) is ever stored.
 */

/** Default lifetime of a bootstrap token: long enough for a slow image pull, short enough to be worthless later. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 60 * 1000;

const SECRET_BYTES = 32;
/** 32 bytes in base64url without padding. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function isSecretShape(value: string): boolean {
  return SECRET_SHAPE.test(value);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Compares a presented secret with a stored hash in constant time (length of a SHA-256 hex is fixed). */
export function secretMatchesHash(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(sha256Hex(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}

export interface IssuedToken {
  /** the secret to put into the instance's env; never stored, never logged */
  token: string;
  record: BootstrapToken;
}

/** Creates a token bound to `podUid` (and `instanceId` when known) and stores only its hash. */
export async function issueBootstrapToken(
  store: TunnelStore,
  options: { podUid: string; instanceId?: string; now: number; ttlMs?: number },
): Promise<IssuedToken> {
  const token = newSecret();
  const record: BootstrapToken = {
    hash: sha256Hex(token),
    podUid: options.podUid,
    expiresAt: options.now + (options.ttlMs ?? DEFAULT_TOKEN_TTL_MS),
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
  };
  await store.putToken(record);
  return { token, record };
}

export type TokenRejection = 'malformed' | 'unknown' | 'expired' | 'used' | 'wrong-pod' | 'wrong-instance';

export type RedeemResult =
  | { outcome: 'ok'; token: BootstrapToken }
  | { outcome: 'rejected'; reason: TokenRejection };

/**
 * Redeems a presented token for `podUid`: single use (the store's conditional consume), and
 * bound to the pod and, when the token names one, the instance. A token presented for the
 * wrong pod or instance is burnt anyway: whoever holds another pod's token is not that pod's
 * agent, and the real agent then fails loudly instead of racing an impostor.
 */
export async function redeemBootstrapToken(
  store: TunnelStore,
  presented: string,
  claim: { podUid: string; instanceId?: string; now: number },
): Promise<RedeemResult> {
  if (!isSecretShape(presented)) return { outcome: 'rejected', reason: 'malformed' };
  const use = await store.consumeToken(sha256Hex(presented), { now: claim.now });
  if (use.outcome !== 'ok') return { outcome: 'rejected', reason: use.outcome };
  // The store looked the record up by hash, so equal hashes are already established; the pod
  // and instance ids are not secret and compare plainly.
  if (use.token.podUid !== claim.podUid) return { outcome: 'rejected', reason: 'wrong-pod' };
  if (use.token.instanceId !== undefined && use.token.instanceId !== claim.instanceId) {
    return { outcome: 'rejected', reason: 'wrong-instance' };
  }
  return { outcome: 'ok', token: use.token };
}
