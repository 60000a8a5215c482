import { z } from 'zod';
import { isAnexError } from '../../errors.ts';
import { allocateAddress } from '../addresses.ts';
import { peerEgress } from '../gateway/peers.ts';
import { isWgKey, wgKeyPair } from '../keys.ts';
import { pinIssues } from '../pins.ts';
import { newSecret, redeemBootstrapToken, sha256Hex } from '../tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../wireproxy-config.ts';
import { type AgentConfig, buildAgentConfig } from './agent-config.ts';
import { fail, json, parseBody } from './http.ts';
import { withinLimit } from './rate-limit.ts';
import {
  type AgentEndpointDeps,
  type AgentLaunch,
  type AgentRequest,
  type AgentResponse,
  LaunchConfigError,
  type TunnelSettings,
} from './types.ts';

export const POD_UID = z
  .string()
  .regex(/^[0-9a-f-]{36}$/, 'must be a pod UID (36 lower-case hex digits and hyphens)');

const BootstrapBody = z.strictObject({
  token: z.string().min(1).max(200),
  podUid: POD_UID,
  instanceId: z.string().min(1).max(128).optional(),
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

/**
 * POST /v1/bootstrap: a one-time token buys the pod's tunnel config. Order matters for crash
 * safety: the token is consumed first (single use even if a later step fails), then the
 * address is claimed (idempotent per pod), then the peer key is set, which is what admits
 * the agent at the gateway.
 */
export async function handleBootstrap(
  request: AgentRequest,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const body = parseBody(request, BootstrapBody);
  if (!body.ok) return body.response;
  const { podUid } = body.value;
  // Only the in-memory limit: a bootstrap token is single use, so an authenticated caller
  // cannot repeat it, and the shared limit is for callers who can.
  if (!(await withinLimit(deps, `bootstrap:${podUid}`, 'before-auth')))
    return fail(429, 'too many requests for this pod');
  const binaries = deps.binaryPins ? await deps.binaryPins(body.value.arch) : deps.settings.binaries;
  const unpinned = await unpinnedBinaries(podUid, binaries, deps);
  if (unpinned.length > 0) {
    deps.logger.warn('agent binaries are not pinned; refusing bootstrap', { podUid, issues: unpinned });
    return fail(503, 'agent binaries are not pinned on this installation (checksums unset)');
  }
  const redeemed = await redeemBootstrapToken(deps.store, body.value.token, {
    podUid,
    now: deps.now(),
    ...(body.value.instanceId === undefined ? {} : { instanceId: body.value.instanceId }),
  });
  if (redeemed.outcome !== 'ok') {
    deps.logger.warn('bootstrap token rejected', { podUid, reason: redeemed.reason });
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
  return admit(body.value, launch, { ...deps, settings: { ...deps.settings, binaries } });
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
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const podUid = launch.podUid;
  const allocation = await allocateAddress(deps.store, podUid, {
    range: deps.settings.vpnRange,
    now: deps.now(),
  });
  const generated = body.publicKey === undefined ? wgKeyPair() : undefined;
  const publicKey = body.publicKey ?? generated?.publicKey ?? '';
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
  await deps.backend.saveStatusCredential(podUid, sha256Hex(statusCredential));
  // The key and what it may reach are one record: the gateway's per-peer rules (ADR 0020).
  await deps.store.setPeerKey(allocation.address, podUid, publicKey, peerEgress(launch));
  deps.logger.info('agent bootstrapped', {
    podUid,
    address: allocation.address,
    transport: launch.transport,
    keySource: config.privateKeySource,
    agentVersion: body.agentVersion,
  });
  return json(200, config);
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
