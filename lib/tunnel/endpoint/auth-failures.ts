import type { AgentEndpointDeps, AuthFailure, AuthFailureReason } from './types.ts';

/**
 * Refusals that an honest agent never causes (ADR 0021): a spent token presented again, a
 * token of another pod, attempt or instance, a second bootstrap of one attempt, a key that is
 * the gateway's or another peer's, a status credential that is not the current one. The rest
 * are routine: a malformed or expired token, no credential, or an agent still asking after its
 * attempt ended (its credential was revoked in the same write).
 */
const SUSPICIOUS: ReadonlySet<AuthFailureReason> = new Set<AuthFailureReason>([
  'token-unknown',
  'token-used',
  'token-wrong-pod',
  'token-wrong-attempt',
  'instance-wrong',
  'attempt-bootstrapped',
  'key-gateway',
  'key-taken',
  'credential-wrong',
]);

export function isSuspicious(reason: AuthFailureReason): boolean {
  return SUSPICIOUS.has(reason);
}

/**
 * Logs a refused credential as one structured line (`alarm: true` when it may mean replay or
 * theft: locally the line is the alarm) and tells the deployment's metric hook. Never logs the
 * credential, the token or its hash.
 */
export function authFailed(deps: AgentEndpointDeps, failure: AuthFailure): void {
  const alarm = isSuspicious(failure.reason);
  deps.logger.warn('agent credential refused', { ...failure, alarm });
  if (alarm) deps.onAuthFailure?.(failure);
}
