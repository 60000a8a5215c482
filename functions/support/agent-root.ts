import { loadConfigFromEnv } from '../../lib/config/config.ts';
import { ReconcilerAgentBackend } from '../../lib/reconcile/agent-backend.ts';
import { createDynamoClient } from '../../lib/state/dynamo-client.ts';
import { DynamoStore } from '../../lib/state/dynamo-store.ts';
import { tokenBucketLimiter } from '../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentEndpointDeps } from '../../lib/tunnel/endpoint/types.ts';
import { tunnelSettingsFromEnv } from '../../lib/tunnel/settings.ts';
import { clusterFrom } from './cluster.ts';
import { credentials, once } from './composition-root.ts';
import { logger } from './logger.ts';

/**
 * The agent endpoint's dependencies: the table (tokens, addresses), the pod view over the
 * store and the cluster (status reports reach `kubectl get pods` at once), the tunnel
 * settings from ANEX_GATEWAY_* variables, and a per-container rate limiter (a best effort:
 * each warm container keeps its own buckets).
 */
export const agentRoot: () => Promise<AgentEndpointDeps> = once(async () => {
  const config = loadConfigFromEnv(process.env);
  const secret = await credentials();
  const store = new DynamoStore({ client: createDynamoClient(), tableName: config.tableName });
  const prefix = secret.wstunnelPathPrefix?.reveal();
  return {
    store,
    backend: new ReconcilerAgentBackend({
      store,
      cluster: clusterFrom(secret.secrets),
      // RunPod blocks inbound UDP: its instances reach the gateway over wstunnel (DESIGN §5).
      transport: { vastai: 'udp', runpod: 'wstunnel' },
    }),
    settings: tunnelSettingsFromEnv(process.env, prefix === undefined ? {} : { wstunnelPathPrefix: prefix }),
    logger: {
      info: (message, fields = {}) => logger.info(message, fields),
      warn: (message, fields = {}) => logger.warn(message, fields),
    },
    now: Date.now,
    rateLimiter: tokenBucketLimiter(),
  };
});
