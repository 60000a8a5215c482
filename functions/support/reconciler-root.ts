import {
  type AnexConfig,
  loadConfigFromEnv,
  reconcileConfig,
  virtualNodes,
} from '../../lib/config/config.ts';
import type { Secrets } from '../../lib/config/secrets.ts';
import type { TunnelMode } from '../../lib/config/tunnel.ts';
import { registryImageGate } from '../../lib/images/gate.ts';
import type { VirtualNodeSpec } from '../../lib/kube/cluster.ts';
import type { ProviderName } from '../../lib/offers/offer.ts';
import { createProvider } from '../../lib/providers/index.ts';
import type { Provider } from '../../lib/providers/provider.ts';
import { agentLaunch } from '../../lib/reconcile/agent-launch.ts';
import { explainSearchCache } from '../../lib/reconcile/explain-cache.ts';
import { type LaunchBuilder, plainLaunch } from '../../lib/reconcile/launch.ts';
import type { PassDeps } from '../../lib/reconcile/pass.ts';
import { defaultRules } from '../../lib/reconcile/rules-default.ts';
import { createDynamoClient } from '../../lib/state/dynamo-client.ts';
import { DynamoStore } from '../../lib/state/dynamo-store.ts';
import type { PaceStore, TunnelStore } from '../../lib/state/store.ts';
import type { AgentArtifact } from '../../lib/tunnel/agent/stub.ts';
import { agentArtifactFromEnv } from './agent-binaries.ts';
import { clusterFrom } from './cluster.ts';
import { credentials, once } from './composition-root.ts';
import { FUNCTION_ENV } from './env.ts';
import { logger } from './logger.ts';
import { registryFromEnv } from './registry.ts';
import { transportsOf, tunnelModeFor } from './tunnel-mode.ts';

/** What tick and pod-events need: the pass's dependencies and the virtual nodes to keep alive. */
export interface ReconcilerRoot {
  config: AnexConfig;
  deps: PassDeps;
  /** one per enabled provider that has an API key in the secret */
  nodes: VirtualNodeSpec[];
}

function providersFrom(
  config: AnexConfig,
  secrets: Secrets,
  /** tick and pod-events run at once: they share the vendors' rate limits through the table (ADR 0011) */
  paceLedger: PaceStore,
): Partial<Record<ProviderName, Provider>> {
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
      paceLedger,
      ...(baseUrl === undefined ? {} : { baseUrl }),
    });
  }
  return providers;
}

/**
 * Instances get the agent (tunnel handoff) when the tunnel is configured ({@link tunnelModeFor});
 * otherwise they run the pod's container as is — with no way back into the cluster — and the
 * startup log says so and why.
 */
export function launchFor(
  config: AnexConfig,
  store: TunnelStore,
  mode: TunnelMode,
  /** the agent the stub pins ({@link agentArtifactFromEnv}: the stack's ANEX_AGENT_SHA256) */
  agent: AgentArtifact | undefined,
): LaunchBuilder {
  if (!mode.on || config.agentEndpointUrl === undefined) {
    const reason = mode.on ? 'ANEX_AGENT_ENDPOINT_URL is not set' : mode.reason;
    logger.warn(`tunnel off (${reason}): instances run the pod's container as is, without the tunnel`);
    return plainLaunch;
  }
  logger.info('tunnel on: instances launch through the agent', {
    agentEndpointUrl: config.agentEndpointUrl,
    transports: transportsOf(config),
  });
  if (agent === undefined) {
    // The stack always sets it; without it no stub can pin the agent it fetches.
    logger.warn(
      `tunnel off (${FUNCTION_ENV.agentSha256} is not set): instances run the pod's container as is, without the agent`,
    );
    return plainLaunch;
  }
  return agentLaunch({
    store,
    range: mode.settings.vpnRange,
    endpointUrl: config.agentEndpointUrl,
    now: Date.now,
    agent,
  });
}

export const reconcilerRoot: () => Promise<ReconcilerRoot> = once(async () => {
  const config = loadConfigFromEnv(process.env);
  const secret = await credentials('reconciler');
  const { secrets } = secret;
  const store = new DynamoStore({ client: createDynamoClient(), tableName: config.tableName });
  const providers = providersFrom(config, secrets, store);
  const deps: PassDeps = {
    store,
    cluster: clusterFrom(secrets),
    providers,
    config: reconcileConfig(config),
    rules: defaultRules,
    explainCache: explainSearchCache(),
    // The image check before renting: a missing image, a private one without its login, an
    // image with nothing to run — refused before any money is spent.
    images: registryImageGate(registryFromEnv(process.env)),
    launch: launchFor(
      config,
      store,
      tunnelModeFor(config, secret, { env: process.env, role: 'launch' }),
      agentArtifactFromEnv(process.env),
    ),
    clock: Date.now,
  };
  return {
    config,
    deps,
    nodes: virtualNodes(config).filter((node) => providers[node.provider] !== undefined),
  };
});
