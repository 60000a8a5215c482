import { z } from 'zod';
import { isAnexError } from '../../errors.ts';
import { allocateAddress } from '../addresses.ts';
import { peerEgress } from '../gateway/peers.ts';
import { isWgKey, wgKeyPair } from '../keys.ts';
import { pinIssues } from '../pins.ts';
import { isSecretShape, newSecret, redeemBootstrapToken, secretMatchesHash, sha256Hex } from '../tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../wireproxy-config.ts';
import { type AgentConfig, buildAgentConfig } from './agent-config.ts';
import { authFailed } from './auth-failures.ts';
import { fail, json, parseBody } from './http.ts';
import { preAuthKey, withinLimit } from './rate-limit.ts';
import {
  type AgentEndpointDeps,
  type AgentLaunch,
  type AgentRequest,
  type AgentResponse,
  type AttemptView,
  type AuthFailureReason,
  LaunchConfigError,
  type TunnelSettings,
} from './types.ts';

export const POD_UID = z
  .string()
  .regex(/^[0-9a-f-]{36}$/, 'must be a pod UID (36 lower-case hex digits and hyphens)');

const BootstrapBody = z.strictObject({
  token: z.string().min(1).max(200),
  podUid: POD_UID,
  /** the provider's id of the agent's instance (ANEX_INSTANCE_ID_ENV), bound to the token (ADR 0021) */
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be an instance id (1-128 of A-Z a-z 0-9 . _ : -)')
    .optional(),
  /** the agent's own WireGuard public key; when absent the endpoint makes the pair */
  publicKey: z.string().refine(isWgKey, 'must be a WireGuard public key (44 base64 characters)').optional(),
  arch: z.enum(['amd64', 'arm64']).default('amd64'),
  /** `shell`: answer as a line bundle the POSIX agent parses (bundle.ts) */
  // `shell` was agent.sh's bundle (retired, ADR 0010): refused with a message that says so.
  format: z
    .literal('json', {
      error: 'format must be "json" (agent.sh and its "shell" bundle are retired; use the anex agent)',
    })
    .default('json'),
  agentVersion: z.string().max(64).optional(),
});
type BootstrapBody = z.infer<typeof BootstrapBody>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ROUTE = '/v1/bootstrap';
/** the answer while the attempt's instance is not recorded: the agent retries 5xx with back-off */
const RETRY = { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '5' };

/**
 * POST /v1/bootstrap: a one-time token buys the pod's tunnel config (ADR 0021). The token must
 * be the current attempt's (the pod record keeps its hash until the attempt ends) and, where
 * the provider tells the machine its id, come with this attempt's instance id; an attempt
 * bootstraps once. Order matters for crash safety: the token is consumed first (single use
 * even if a later step fails), then the address is claimed (idempotent per pod), then the
 * credential is saved while the attempt is still current, then the peer key is set, which is
 * what admits the agent at the gateway.
 */
export async function handleBootstrap(
  request: AgentRequest,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const body = parseBody(request, BootstrapBody);
  if (!body.ok) return body.response;
  const { podUid } = body.value;
  // Only the in-memory limit, per caller: a bootstrap token is single use, so an authenticated
  // caller cannot repeat it, and the shared limit is for callers who can.
  if (!(await withinLimit(deps, preAuthKey(request, 'bootstrap', podUid), 'before-auth')))
    return fail(429, 'too many requests for this pod');
  const binaries = deps.binaryPins ? await deps.binaryPins(body.value.arch) : deps.settings.binaries;
  const unpinned = await unpinnedBinaries(podUid, binaries, deps);
  if (unpinned.length > 0) {
    deps.logger.warn('agent binaries are not pinned; refusing bootstrap', { podUid, issues: unpinned });
    return fail(503, 'agent binaries are not pinned on this installation (checksums unset)');
  }
  const attempt = await deps.backend.attempt(podUid);
  const bound = attempt === undefined ? undefined : checkAttempt(body.value, attempt);
  if (bound !== undefined) {
    if (bound.reason === 'instance-unrecorded') {
      // The create's answer is not recorded yet: not refused, retried (the agent retries 5xx).
      deps.logger.info('bootstrap before the instance is recorded; asked to retry', { podUid });
      return { ...fail(503, "this attempt's instance is not recorded yet; retry shortly"), headers: RETRY };
    }
    authFailed(deps, { reason: bound.reason, route: ROUTE, podUid });
    return fail(bound.status, bound.message);
  }
  const redeemed = await redeemBootstrapToken(deps.store, body.value.token, {
    podUid,
    now: deps.now(),
    ...(body.value.instanceId === undefined ? {} : { instanceId: body.value.instanceId }),
  });
  if (redeemed.outcome !== 'ok') {
    const reason =
      redeemed.reason === 'wrong-instance' ? 'instance-wrong' : (`token-${redeemed.reason}` as const);
    authFailed(deps, { reason, route: ROUTE, podUid });
    return fail(401, `bootstrap token rejected (${redeemed.reason})`);
  }
  let launch: AgentLaunch | undefined;
  try {
    launch = await deps.backend.getLaunch(podUid);
  } catch (error) {
    if (!(error instanceof LaunchConfigError)) throw error;
    deps.logger.warn('bootstrap for a pod whose container cannot be configured', { podUid });
    return fail(409, `the pod's container cannot be configured: ${error.message}`);
  }
  if (!launch) {
    deps.logger.warn('bootstrap for a pod that is gone', { podUid });
    return fail(410, 'this pod is gone; the instance should stop');
  }
  const tokenHash = attempt === undefined ? undefined : sha256Hex(body.value.token);
  return admit(body.value, launch, tokenHash, { ...deps, settings: { ...deps.settings, binaries } });
}

type AttemptRefusal =
  | { reason: 'instance-unrecorded' }
  | { reason: AuthFailureReason; status: number; message: string };

/**
 * The token against the pod's current attempt (ADR 0021), before it is spent: a refusal here
 * leaves the current attempt's token usable by its own agent. Secrets compare in constant time.
 */
export function checkAttempt(
  body: { token: string; instanceId?: string | undefined },
  attempt: AttemptView,
): AttemptRefusal | undefined {
  if (!isSecretShape(body.token))
    return { reason: 'token-malformed', status: 401, message: 'bootstrap token rejected (malformed)' };
  if (attempt.tokenHash === undefined || !secretMatchesHash(body.token, attempt.tokenHash)) {
    const message = "bootstrap token rejected (not this pod's current attempt: it ended or was replaced)";
    return { reason: 'token-wrong-attempt', status: 401, message };
  }
  if (attempt.bootstrapped) {
    return { reason: 'attempt-bootstrapped', status: 409, message: 'this attempt already bootstrapped' };
  }
  if (!attempt.instanceBound) return undefined;
  if (body.instanceId === undefined) {
    const message =
      'bootstrap token rejected (instanceId missing: the agent must send the id its provider sets in ANEX_INSTANCE_ID_ENV)';
    return { reason: 'instance-missing', status: 401, message };
  }
  if (attempt.instanceId === undefined) return { reason: 'instance-unrecorded' };
  if (attempt.instanceId !== body.instanceId) {
    return {
      reason: 'instance-wrong',
      status: 401,
      message: "bootstrap token rejected (not this attempt's instance)",
    };
  }
  return undefined;
}

/**
 * Pin problems of the binaries this pod's agent will download: wireproxy for any tunnel,
 * wstunnel only for a wstunnel launch (so UDP pods run while wstunnel's pin is still
 * unverified), nothing without a tunnel. Checked before the one-time token is spent; the
 * launch lookup says no more than the transport.
 */
async function unpinnedBinaries(
  podUid: string,
  binaries: TunnelSettings['binaries'],
  deps: AgentEndpointDeps,
): Promise<string[]> {
  const options = { allowInsecureUrls: deps.settings.allowInsecureBinaryUrls ?? false };
  const wireproxy = pinIssues(binaries.wireproxy, options);
  const wstunnel = pinIssues(binaries.wstunnel, options);
  if (wireproxy.length === 0 && wstunnel.length === 0) return [];
  // A launch that cannot be configured yet is refused later, with its reason.
  const transport = (await deps.backend.getLaunch(podUid).catch(() => undefined))?.transport;
  if (transport === 'none') return [];
  return transport === 'wstunnel' ? [...wireproxy, ...wstunnel] : wireproxy;
}

async function admit(
  body: BootstrapBody,
  launch: AgentLaunch,
  tokenHash: string | undefined,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const podUid = launch.podUid;
  const allocation = await allocateAddress(deps.store, podUid, {
    range: deps.settings.vpnRange,
    now: deps.now(),
  });
  const generated = body.publicKey === undefined ? wgKeyPair() : undefined;
  const publicKey = body.publicKey ?? generated?.publicKey ?? '';
  const taken = await keyTaken(publicKey, allocation.address, deps);
  if (taken !== undefined) {
    authFailed(deps, { reason: taken, route: ROUTE, podUid });
    return fail(409, "publicKey is already in use (the gateway's or another peer's); make a new key pair");
  }
  const statusCredential = newSecret();
  let config: AgentConfig;
  try {
    config = buildAgentConfig({
      launch: { ...launch, env: usableEnv(launch, deps) },
      settings: deps.settings,
      address: allocation.address,
      arch: body.arch,
      privateKey: generated?.privateKey ?? PRIVATE_KEY_PLACEHOLDER,
      privateKeySource: generated ? 'endpoint' : 'agent',
      statusCredential,
    });
  } catch (error) {
    if (!isAnexError(error) || error.kind !== 'invalid-input') throw error;
    deps.logger.warn('pod spec cannot be tunnelled', { podUid, issues: error.message.split('\n') });
    return fail(422, `the pod's tunnel settings are invalid: ${error.message.split('\n').join('; ')}`);
  }
  if (!(await deps.backend.saveStatusCredential(podUid, sha256Hex(statusCredential), tokenHash))) {
    deps.logger.warn('bootstrap raced the end of its attempt; refused', { podUid });
    return fail(409, 'this attempt ended during the bootstrap; the instance should stop');
  }
  // The key and what it may reach are one record: the gateway's per-peer rules (ADR 0020).
  await deps.store.setPeerKey(allocation.address, podUid, publicKey, peerEgress(launch));
  if (tokenHash !== undefined && (await deps.backend.attempt(podUid))?.tokenHash !== tokenHash) {
    // The attempt ended between the credential and the key: the key must not outlive it.
    await deps.store.clearPeerKey(allocation.address, podUid);
    deps.logger.warn('bootstrap raced the end of its attempt; key withdrawn', { podUid });
    return fail(409, 'this attempt ended during the bootstrap; the instance should stop');
  }
  deps.logger.info('agent bootstrapped', {
    podUid,
    address: allocation.address,
    transport: launch.transport,
    keySource: config.privateKeySource,
    agentVersion: body.agentVersion,
    instanceId: body.instanceId,
  });
  return json(200, config);
}

/**
 * A key the gateway already knows for someone else (L5): its own (a peer with it would be
 * ambiguous to every other peer), or another address's, which `desiredPeers` would keep
 * once and so displace one of the two.
 */
async function keyTaken(
  publicKey: string,
  address: string,
  deps: AgentEndpointDeps,
): Promise<'key-gateway' | 'key-taken' | undefined> {
  if (publicKey === deps.settings.gatewayPublicKey) return 'key-gateway';
  const others = await deps.store.listAddresses();
  return others.some((a) => a.publicKey === publicKey && a.address !== address) ? 'key-taken' : undefined;
}

/** Env vars the agent can export; others are dropped with a warning naming them (not their values). */
function usableEnv(launch: AgentLaunch, deps: AgentEndpointDeps): Record<string, string> {
  const entries = Object.entries(launch.env);
  const dropped = entries.filter(([name]) => !ENV_NAME.test(name)).map(([name]) => name);
  if (dropped.length > 0) {
    deps.logger.warn('env names a POSIX shell cannot export were dropped', {
      podUid: launch.podUid,
      dropped,
    });
  }
  return Object.fromEntries(entries.filter(([name]) => ENV_NAME.test(name)));
}
