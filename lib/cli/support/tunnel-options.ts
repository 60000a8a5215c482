import type { Command } from 'commander';
import type { AnexConfig } from '../../config/config.ts';
import { operatorBinariesFromEnv } from '../../config/tunnel.ts';
import { InvalidInputError } from '../../errors.ts';
import type { LocalTunnelOptions } from '../../local/agent-endpoint.ts';

export interface TunnelCliOptions {
  agentListen: string;
  gatewayPublicKey?: string;
  gatewayEndpoint?: string;
  gatewayWstunnelUrl?: string;
  clusterCidrs?: string;
}

/** The path prefix is the wstunnel server's shared secret: from the environment, never a flag. */
export const WSTUNNEL_PREFIX_ENV = 'ANEX_WSTUNNEL_PATH_PREFIX';

/** `anex run`'s tunnel flags (the agent endpoint and the gateway it hands agents to). */
export function addTunnelOptions(command: Command): Command {
  return command
    .option(
      '--agent-listen <host:port>',
      'where the agent endpoint listens (with --agent-endpoint-url)',
      '127.0.0.1:8787',
    )
    .option('--gateway-public-key <key>', "the WireGuard gateway's public key (with --agent-endpoint-url)")
    .option('--gateway-endpoint <host:port>', "the gateway's WireGuard UDP address as agents dial it")
    .option(
      '--gateway-wstunnel-url <url>',
      `the gateway's wstunnel server for RunPod (path prefix from $${WSTUNNEL_PREFIX_ENV})`,
    )
    .option('--cluster-cidrs <list>', 'Service/Pod CIDRs routed into the tunnel, comma-separated');
}

/** Tunnel options when the agent endpoint is on (`--agent-endpoint-url`), else undefined. */
export function tunnelOptions(
  options: TunnelCliOptions,
  config: AnexConfig,
  env: Readonly<Record<string, string | undefined>>,
): LocalTunnelOptions | undefined {
  const gatewayFlags = [options.gatewayPublicKey, options.gatewayEndpoint, options.gatewayWstunnelUrl];
  if (config.agentEndpointUrl === undefined) {
    if (gatewayFlags.some((f) => f !== undefined)) {
      throw new InvalidInputError([
        '--gateway-* flags need --agent-endpoint-url (the URL agents on rented machines reach this endpoint at)',
      ]);
    }
    return undefined;
  }
  if (options.gatewayPublicKey === undefined || options.gatewayEndpoint === undefined) {
    throw new InvalidInputError([
      '--agent-endpoint-url needs --gateway-public-key and --gateway-endpoint (the WireGuard gateway agents connect to; see docs/tunnel.md)',
    ]);
  }
  const prefix = env[WSTUNNEL_PREFIX_ENV];
  if (options.gatewayWstunnelUrl !== undefined && !prefix) {
    throw new InvalidInputError([
      `--gateway-wstunnel-url needs $${WSTUNNEL_PREFIX_ENV} (the server's path prefix)`,
    ]);
  }
  return {
    agentUrl: config.agentEndpointUrl,
    listen: options.agentListen,
    vpnRange: config.vpnRange,
    gateway: {
      publicKey: options.gatewayPublicKey,
      endpoint: options.gatewayEndpoint,
      ...(options.gatewayWstunnelUrl === undefined || !prefix
        ? {}
        : { wstunnel: { serverUrl: options.gatewayWstunnelUrl, pathPrefix: prefix } }),
      clusterCidrs: (options.clusterCidrs ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== ''),
    },
    // Pins the operator did not name: wireproxy is built and served here (lib/local/agent-binaries.ts).
    binaries: operatorBinariesFromEnv(env),
  };
}
