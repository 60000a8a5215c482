import { desiredPeers, renderPeerSections } from '../gateway/peers.ts';
import { secretMatchesHash } from '../tokens.ts';
import { bearer, fail, json, text } from './http.ts';
import { preAuthKey, withinLimit } from './rate-limit.ts';
import type { AgentEndpointDeps, AgentRequest, AgentResponse } from './types.ts';

/**
 * The gateway's credential check, shared by its routes (GET /v1/peers, GET /v1/logs): 404 when
 * no gateway credential is configured, the limit before authentication, then the credential
 * (constant time). @returns the refusal, or undefined when the caller is the gateway
 */
export async function gatewayRefusal(
  request: AgentRequest,
  deps: AgentEndpointDeps,
  route: { route: string; what: string },
): Promise<AgentResponse | undefined> {
  const expected = deps.settings.gatewayTokenHash;
  const credential = bearer(request);
  if (expected === undefined) return fail(404, `${route.what} is not enabled on this endpoint`);
  // Credential guesses are limited per caller address before the check (audit L4); the
  // gateway's own address keeps its bucket whatever others send.
  if (!(await withinLimit(deps, preAuthKey(request, route.route, 'gateway'), 'before-auth')))
    return fail(429, `too many requests for ${route.what}`);
  if (credential === undefined || !secretMatchesHash(credential, expected)) {
    deps.logger.warn('gateway request with a wrong or missing gateway credential', { route: route.route });
    return fail(401, 'missing or wrong gateway credential');
  }
  return undefined;
}

/**
 * GET /v1/peers[?format=wg]: the gateway's desired peer set (docs/adr/0001-gateway-peer-sync.md).
 * Authenticated by the gateway's own bearer credential; only public keys, addresses and each
 * peer's allowed destinations leave (the gateway's per-peer rules, ADR 0020).
 */
export async function handlePeers(
  request: AgentRequest,
  query: URLSearchParams,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const refused = await gatewayRefusal(request, deps, { route: 'peers', what: 'the peer list' });
  if (refused !== undefined) return refused;
  if (!(await withinLimit(deps, 'peers:gateway', 'after-auth')))
    return fail(429, 'too many requests from the gateway');
  const peers = desiredPeers(
    await deps.store.listAddresses(),
    deps.settings.vpnRange,
    deps.settings.gatewayPublicKey,
  );
  if (query.get('format') === 'wg') return text(200, renderPeerSections(peers));
  return json(200, { peers });
}
