import { formatTag, type InstanceTag, POD_UID_ENV_VAR, TAG_ENV_VAR } from '../providers/provider.ts';
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
 * config at bootstrap. The VPN address is allocated here, before create, so the pod's
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
    return {
      vpnAddress: allocation.address,
      launch: 'agent',
      spec: {
        image: plain.image,
        ...(plain.cuda === undefined ? {} : { cuda: plain.cuda }),
        ...(plain.registryAuth === undefined ? {} : { registryAuth: plain.registryAuth }),
        command,
        env: agentEnv(input.tag, options, issued.token),
        diskGb: plain.diskGb,
      },
    };
  };
  return Object.assign(builder, { agent: true });
}

function agentEnv(tag: InstanceTag, options: AgentLaunchOptions, token: string): Record<string, string> {
  return {
    [TAG_ENV_VAR]: formatTag(tag),
    [POD_UID_ENV_VAR]: tag.podUid,
    [AGENT_ENV.url]: options.endpointUrl,
    [AGENT_ENV.token]: token,
    ...(options.insecure === true ? { [AGENT_ENV.insecure]: '1' } : {}),
  };
}
