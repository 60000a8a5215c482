import { PROVIDER_ENV } from '../../lib/config/secrets.ts';

/**
 * The stack's secrets, one per consumer (ADR 0022): each function is given the ARN of the one
 * secret it reads, in that secret's own variable, and may read nothing else. The CDK stack
 * (infra/constructs/credentials-secret.ts) and the loader (credentials.ts) both read this
 * table, so a key cannot be granted on one side and expected on the other.
 *
 * - `reconciler` (tick, pod-events): the provider API keys and the reconciler ServiceAccount's
 *   kubeconfig — the only functions that rent, destroy and write nodes.
 * - `agent` (the public agent endpoint): the kubeconfig of the narrow `anex-agent`
 *   ServiceAccount (get pods, patch their status, events, env sources) — never an API key.
 * - `webhook` (the public admission endpoint): the generated webhook token, nothing else.
 *
 * `wstunnelPathPrefix` is in both cluster secrets: the passes decide the tunnel mode with it
 * and the agent endpoint hands it to RunPod hosts.
 */
export const SECRET_LAYOUT = {
  reconciler: {
    env: 'ANEX_RECONCILER_SECRET_ARN',
    keys: [PROVIDER_ENV.vastai.apiKey, PROVIDER_ENV.runpod.apiKey, 'kubeconfig', 'wstunnelPathPrefix'],
    readers: ['tick', 'pod-events'],
  },
  agent: {
    env: 'ANEX_AGENT_SECRET_ARN',
    keys: ['kubeconfig', 'wstunnelPathPrefix'],
    readers: ['agent'],
  },
  webhook: {
    env: 'ANEX_WEBHOOK_SECRET_ARN',
    keys: ['webhookToken'],
    readers: ['admission'],
  },
} as const;

export type SecretConsumer = keyof typeof SECRET_LAYOUT;

export const SECRET_CONSUMERS = Object.keys(SECRET_LAYOUT) as SecretConsumer[];
