import {
  type AnexConfig,
  loadConfigFromEnv,
  reconcileConfig,
  virtualNodes,
} from '../../lib/config/config.ts';
import type { Secrets } from '../../lib/config/secrets.ts';
import type { VirtualNodeSpec } from '../../lib/kube/cluster.ts';
import type { ProviderName } from '../../lib/offers/offer.ts';
import { createProvider } from '../../lib/providers/index.ts';
import type { Provider } from '../../lib/providers/provider.ts';
import { agentLaunch } from '../../lib/reconcile/agent-launch.ts';
import { type LaunchBuilder, plainLaunch } from '../../lib/reconcile/launch.ts';
import type { PassDeps } from '../../lib/reconcile/pass.ts';
import { defaultRules } from '../../lib/reconcile/rules-default.ts';
import { createDynamoClient } from '../../lib/state/dynamo-client.ts';
import { DynamoStore } from '../../lib/state/dynamo-store.ts';
import type { TunnelStore } from '../../lib/state/store.ts';
import { parseVpnRange } from '../../lib/tunnel/addresses.ts';
import { clusterFrom } from './cluster.ts';
import { credentials, once } from './composition-root.ts';
import { logger } from './logger.ts';

/** What tick and pod-events need: the pass's dependencies and the virtual nodes to keep alive. */
export interface ReconcilerRoot {
  config: AnexConfig;
  deps: PassDeps;
  /** one per enabled provider that has an API key in the secret */
  nodes: VirtualNodeSpec[];
}

function providersFrom(config: AnexConfig, secrets: Secrets): Partial<Record<ProviderName, Provider>> {
  const providers: Partial<Record<ProviderName, Provider>> = {};
  for (const name of config.providers) {
    const apiKey = secrets.apiKeys[name];
    if (apiKey === undefined) {
      logger.warn('provider enabled but its API key is missing from the secret; not reconciled', {
        provider: name,
      });
      continue;
    }
    const baseUrl = config.providerBaseUrls[name];
    providers[name] = createProvider(name, {
      apiKey: apiKey.reveal(),
      clusterId: config.clusterId,
      ...(baseUrl === undefined ? {} : { baseUrl }),
    });
  }
  return providers;
}

/**
 * Instances get the agent (tunnel handoff) when the agent endpoint is known — the stack
 * always sets it; without it a pod's container would run with no way back into the cluster.
 */
export function launchFor(config: AnexConfig, store: TunnelStore): LaunchBuilder {
  if (config.agentEndpointUrl === undefined) {
    logger.warn('ANEX_AGENT_ENDPOINT_URL is not set: instances run the pod as is, without the tunnel');
    return plainLaunch;
  }
  return agentLaunch({
    store,
    range: parseVpnRange(config.vpnRange),
    endpointUrl: config.agentEndpointUrl,
    now: Date.now,
  });
}

export const reconcilerRoot: () => Promise<ReconcilerRoot> = once(async () => {
  const config = loadConfigFromEnv(process.env);
  const { secrets } = await credentials();
  const providers = providersFrom(config, secrets);
  const store = new DynamoStore({ client: createDynamoClient(), tableName: config.tableName });
  const deps: PassDeps = {
    store,
    cluster: clusterFrom(secrets),
    providers,
    config: reconcileConfig(config),
    rules: defaultRules,
    launch: launchFor(config, store),
    clock: Date.now,
  };
  return {
    config,
    deps,
    nodes: virtualNodes(config).filter((node) => providers[node.provider] !== undefined),
  };
});
