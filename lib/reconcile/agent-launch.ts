import { formatTag, POD_UID_ENV_VAR, TAG_ENV_VAR } from '../providers/provider.ts';
import type { TunnelStore } from '../state/store.ts';
import { allocateAddress, type VpnRange } from '../tunnel/addresses.ts';
import { AGENT_ENV } from '../tunnel/agent/env.ts';
import { type AgentArtifact, agentCommand } from '../tunnel/agent/stub.ts';
import { issueBootstrapToken } from '../tunnel/tokens.ts';
import { type BuiltLaunch, buildLaunchSpec, type LaunchBuilder, type LaunchInput } from './launch.ts';

export interface AgentLaunchOptions {
  store: TunnelStore;
  range: VpnRange;
  /** the agent endpoint's base URL (https://…; http:// only with `insecure`) */
  endpointUrl: string;
  /** tests and local mode on loopback */
  insecure?: boolean;
  tokenTtlMs?: number;
  now: () => number;
  /**
   * The agent the stub fetches and checks; must be what the endpoint serves at
   * `/v1/agent/<arch>` (the self-built binary, lib/tunnel/self-built.ts builtAgentArtifact).
   */
  agent: AgentArtifact;
}

/**
 * The launch through the tunnel (DESIGN §5): the instance gets only the launch stub (which
 * downloads and checks the agent: lib/tunnel/agent/stub.ts), the endpoint URL and a one-time token; the agent fetches the pod's command, env and tunnel
 * config at bootstrap. The token is this attempt's (its hash goes in the pod record with the
 * intent; ADR 0021) and, where the provider tells the machine its instance id, works only with
 * that id (ANEX_INSTANCE_ID_ENV names the variable). The VPN address is allocated here, before create, so the pod's
 * podIP is known from the start — the endpoint's bootstrap finds and reuses it.
 */
export function agentLaunch(options: AgentLaunchOptions): LaunchBuilder {
  const command = agentCommand(options.agent);
  const builder = async (input: LaunchInput): Promise<BuiltLaunch> => {
    const podUid = input.tag.podUid;
    const allocation = await allocateAddress(options.store, podUid, {
      range: options.range,
      now: options.now(),
    });
    const issued = await issueBootstrapToken(options.store, {
      podUid,
      now: options.now(),
      ...(options.tokenTtlMs === undefined ? {} : { ttlMs: options.tokenTtlMs }),
    });
    const plain = buildLaunchSpec(input);
    const instanceBound = input.instanceIdEnv !== undefined;
    return {
      vpnAddress: allocation.address,
      launch: 'agent',
      // The record keeps the hash: the endpoint takes this attempt's token only (ADR 0021).
      agentToken: { hash: issued.record.hash, ...(instanceBound ? { instanceBound } : {}) },
      spec: {
        image: plain.image,
        ...(plain.cuda === undefined ? {} : { cuda: plain.cuda }),
        ...(plain.registryAuth === undefined ? {} : { registryAuth: plain.registryAuth }),
        command,
        env: agentEnv(input, options, issued.token),
        diskGb: plain.diskGb,
      },
    };
  };
  return Object.assign(builder, { agent: true });
}

function agentEnv(input: LaunchInput, options: AgentLaunchOptions, token: string): Record<string, string> {
  const { tag, instanceIdEnv } = input;
  return {
    [TAG_ENV_VAR]: formatTag(tag),
    [POD_UID_ENV_VAR]: tag.podUid,
    [AGENT_ENV.url]: options.endpointUrl,
    [AGENT_ENV.token]: token,
    // Where the provider puts the instance id: the agent sends it with the token (ADR 0021).
    ...(instanceIdEnv === undefined ? {} : { [AGENT_ENV.instanceIdEnv]: instanceIdEnv }),
    ...(options.insecure === true ? { [AGENT_ENV.insecure]: '1' } : {}),
  };
}
