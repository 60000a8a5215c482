import { parseKubeletAddress } from '../../kube/virtual-node.ts';
import { desiredPeers, renderPeerSections } from '../gateway/peers.ts';
import { secretMatchesHash } from '../tokens.ts';
import { bearer, fail, header, json, text } from './http.ts';
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
  await recordKubeletAddress(request, deps);
  const peers = desiredPeers(
    await deps.store.listAddresses(),
    deps.settings.vpnRange,
    deps.settings.gatewayPublicKey,
  );
  if (query.get('format') === 'wg') return text(200, renderPeerSections(peers));
  return json(200, { peers });
}

/** The gateway's kubelet API address is written again at least this often, or when it changes. */
export const KUBELET_ADDRESS_REFRESH_MS = 60_000;

/**
 * The gateway's sync may carry `X-Anex-Kubelet-Address: <ipv4>:<port>`, where its kubelet API
 * listens (ADR 0023 §3); recorded for the node heartbeat, which publishes it while fresh. A
 * malformed value is ignored with a warning, and a store failure too: the peer list must not
 * fail over it. Written when it changed or once a minute, not on every 10 s sync.
 */
async function recordKubeletAddress(request: AgentRequest, deps: AgentEndpointDeps): Promise<void> {
  const raw = header(request, 'x-anex-kubelet-address');
  if (raw === undefined) return;
  const address = parseKubeletAddress(raw);
  if (address === undefined) {
    deps.logger.warn('ignored a malformed X-Anex-Kubelet-Address (want <ipv4>:<port>)', {
      value: raw.slice(0, 64),
    });
    return;
  }
  const now = deps.now();
  try {
    const stored = await deps.store.getKubeletAddress();
    const same = stored?.ip === address.ip && stored.port === address.port;
    if (same && now - stored.reportedAt < KUBELET_ADDRESS_REFRESH_MS) return;
    await deps.store.putKubeletAddress({ ...address, reportedAt: now });
    if (!same) deps.logger.info('kubelet API address reported', { ip: address.ip, port: address.port });
  } catch (error) {
    deps.logger.warn('could not record the kubelet API address; the peer list is served anyway', {
      name: error instanceof Error ? error.name : typeof error,
    });
  }
}
