import { AnexError } from '../../lib/errors.ts';
import type { AgentEndpointDeps } from '../../lib/tunnel/endpoint/types.ts';
import { once } from './composition-root.ts';

/**
 * SEAM — the agent endpoint's dependencies are: the DynamoStore (TunnelStore), a
 * ReconcilerAgentBackend (lib/reconcile/agent-backend.ts) over that store and the cluster
 * from `clusterFrom(credentials().secrets)`, a tokenBucketLimiter, the logger, and
 * TunnelSettings (gateway public key, UDP/wstunnel endpoints, binary pins, cluster CIDRs).
 * lib/config does not yet carry TunnelSettings, so until it does every agent request is
 * answered 503 (agents retry) and nothing is half-done. Build them here when it lands; the
 * handler does not change. The stack already gives this function the table, the secret and
 * the queue.
 */
export const agentRoot: () => Promise<AgentEndpointDeps> = once(async () => {
  throw new AnexError('the agent endpoint is not wired yet: lib/config has no TunnelSettings', {
    kind: 'unavailable',
    retryable: true,
  });
});
