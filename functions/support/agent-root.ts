import type { PodEventSink } from '../../lib/admission/pod-event.ts';
import { type AnexConfig, loadConfigFromEnv } from '../../lib/config/config.ts';
import { operatorBinariesFromEnv, type TunnelMode } from '../../lib/config/tunnel.ts';
import type { Cluster } from '../../lib/kube/cluster.ts';
import { GATEWAY_TRANSPORT } from '../../lib/providers/provider.ts';
import { ReconcilerAgentBackend } from '../../lib/reconcile/agent-backend.ts';
import { createDynamoClient } from '../../lib/state/dynamo-client.ts';
import { DynamoStore } from '../../lib/state/dynamo-store.ts';
import type { Store } from '../../lib/state/store.ts';
import { storeRateLimiter, tokenBucketLimiter } from '../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentEndpointDeps } from '../../lib/tunnel/endpoint/types.ts';
import { s3Signer, storedAgentDownload, storedBinariesFromEnv, storedBinaryPins } from './agent-binaries.ts';
import { clusterFrom } from './cluster.ts';
import { credentials, functionEnv, once } from './composition-root.ts';
import { errorFields, logger } from './logger.ts';
import { commandResolver, registryFromEnv } from './registry.ts';
import { sqsPodEventSink } from './sqs-sink.ts';
import { tunnelModeFor } from './tunnel-mode.ts';

/** The agent endpoint, or why it is off (it then answers 503 and agents keep retrying). */
export type AgentRoot = { on: true; deps: AgentEndpointDeps } | { on: false; reason: string };

/**
 * The agent endpoint's dependencies once the tunnel is configured: the table (tokens,
 * addresses), the pod view over the store and the cluster (status reports reach `kubectl get
 * pods` at once), the tunnel settings and a per-container rate limiter (a best effort: each
 * warm container keeps its own buckets). The same rule as the passes' launch decides.
 */
export function agentRootFor(options: {
  config: AnexConfig;
  mode: TunnelMode;
  store: Store;
  cluster: () => Cluster;
  /** per-bootstrap pins of the stack's self-built binaries (presigned URLs); unset = settings' pins */
  binaryPins?: AgentEndpointDeps['binaryPins'];
  /** where `/v1/agent/<arch>` redirects (the stack's agent binary); unset = 503 */
  agentDownload?: AgentEndpointDeps['agentDownload'];
  /** the per-pod pass queue: an exit report asks for the pod's pass at once; unset = the tick only */
  passes?: PodEventSink;
}): AgentRoot {
  const { mode, store } = options;
  if (!mode.on) {
    logger.warn(`tunnel off (${mode.reason}): the agent endpoint answers 503`);
    return { on: false, reason: mode.reason };
  }
  logger.info('tunnel on: agent endpoint serving', { providers: options.config.providers });
  return {
    on: true,
    deps: {
      store,
      backend: new ReconcilerAgentBackend({
        store,
        cluster: options.cluster(),
        transport: GATEWAY_TRANSPORT,
        command: commandResolver(registryFromEnv(process.env), options.cluster()),
        ...(options.passes === undefined ? {} : { passes: options.passes }),
        // With forwarders the pods' podIP is theirs (ADR 0024): reports leave it alone.
        ...(options.config.forwarding === undefined ? {} : { forwarding: true }),
      }),
      settings: mode.settings,
      logger: {
        info: (message, fields = {}) => logger.info(message, fields),
        warn: (message, fields = {}) => logger.warn(message, fields),
      },
      now: Date.now,
      rateLimiter: tokenBucketLimiter(),
      // Every warm container shares this one: the table counts per pod across them.
      sharedLimiter: storeRateLimiter(store),
      ...(options.binaryPins === undefined ? {} : { binaryPins: options.binaryPins }),
      ...(options.agentDownload === undefined ? {} : { agentDownload: options.agentDownload }),
    },
  };
}

export const agentRoot: () => Promise<AgentRoot> = once(async () => {
  const config = loadConfigFromEnv(process.env);
  const secret = await credentials('agent');
  const mode = tunnelModeFor(config, secret, { env: process.env, role: 'endpoint' });
  return agentRootFor({
    config,
    mode,
    store: new DynamoStore({ client: createDynamoClient(), tableName: config.tableName }),
    cluster: () => clusterFrom(secret.secrets),
    ...selfBuiltPins(process.env),
    ...passQueue(functionEnv().queueUrl),
  });
});

/** The stack's per-pod pass queue (the agent function may send to it), its failures logged. */
function passQueue(queueUrl: string | undefined): { passes?: PodEventSink } {
  if (queueUrl === undefined) return {};
  const sqs = sqsPodEventSink(queueUrl);
  return {
    passes: {
      send: (message, options) =>
        sqs.send(message, options).catch((error: unknown) => {
          logger.warn('could not enqueue the pass an exit report asks for; the tick will catch up', {
            podUid: message.podUid,
            ...errorFields(error),
          });
        }),
    },
  };
}

/**
 * The stack's self-built binaries (presigned S3 URLs), except those the operator pinned in
 * ANEX_AGENT_BINARIES, which always win. Without the stack's binaries (or with both pinned)
 * the settings' pins apply.
 */
export function selfBuiltPins(env: NodeJS.ProcessEnv): {
  binaryPins?: AgentEndpointDeps['binaryPins'];
  agentDownload?: AgentEndpointDeps['agentDownload'];
} {
  const stored = storedBinariesFromEnv(env);
  if (stored === undefined) return {};
  const signer = s3Signer();
  const agentDownload = storedAgentDownload(stored, signer);
  const operator = operatorBinariesFromEnv(env);
  if (operator.wireproxy !== undefined && operator.wstunnel !== undefined) return { agentDownload };
  return { binaryPins: storedBinaryPins(stored, signer, operator), agentDownload };
}
