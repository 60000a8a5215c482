import type { AnexConfig } from '../../lib/config/config.ts';
import { type TunnelMode, tunnelModeFrom } from '../../lib/config/tunnel.ts';
import { GATEWAY_TRANSPORT } from '../../lib/providers/provider.ts';
import type { ClusterCredentials } from './credentials.ts';

/** How the enabled providers' instances reach the gateway (lib/providers/provider.ts). */
export function transportsOf(config: AnexConfig): ('udp' | 'wstunnel')[] {
  return [...new Set(config.providers.map((p) => GATEWAY_TRANSPORT[p]))];
}

/**
 * Whether this deployment runs pods through the tunnel: one rule for the passes (agent launch)
 * and the agent endpoint, so an instance is never handed an agent that its endpoint refuses.
 * The enabled providers decide what is needed (ANEX_PROVIDERS), not only those with a key.
 */
export function tunnelModeFor(
  config: AnexConfig,
  credentials: Pick<ClusterCredentials, 'wstunnelPathPrefix'>,
  options: {
    env: Readonly<Record<string, string | undefined>>;
    /**
     * `launch` (tick, pod-events) also needs the agent endpoint's URL to hand out; the
     * `endpoint` (the agent function) does not — it is that URL, and the stack cannot give a
     * function its own Function URL (a circular reference).
     */
    role: 'launch' | 'endpoint';
  },
): TunnelMode {
  return tunnelModeFrom({
    env: options.env,
    transports: transportsOf(config),
    wstunnelPathPrefix: credentials.wstunnelPathPrefix,
    agentEndpointUrl: options.role === 'endpoint' ? false : config.agentEndpointUrl,
  });
}
