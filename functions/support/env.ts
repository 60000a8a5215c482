import { z } from 'zod';
import { AnexError } from '../../lib/errors.ts';
import { SECRET_LAYOUT, type SecretConsumer } from './secret-layout.ts';

/**
 * Environment variables the CDK stack (infra/) sets on every function and the composition
 * root reads. One list, imported by both sides, so their names cannot drift. Settings of
 * the reconciler itself (providers, node names, VPN range, ...) belong to lib/config and
 * are passed through unchanged (AnexStackProps.environment).
 */
export const FUNCTION_ENV = {
  /** DynamoDB table name (lib/state/table.ts layout); read through lib/config (same variable) */
  tableName: 'ANEX_TABLE_NAME',
  /** tick, pod-events: ARN of the reconciler's secret (API keys, kubeconfig; secret-layout.ts) */
  reconcilerSecretArn: SECRET_LAYOUT.reconciler.env,
  /** agent: ARN of the agent endpoint's secret (the anex-agent kubeconfig) */
  agentSecretArn: SECRET_LAYOUT.agent.env,
  /** admission: ARN of the webhook token's secret */
  webhookSecretArn: SECRET_LAYOUT.webhook.env,
  /** URL of the per-pod pass queue (admission and agent enqueue; pod-events consumes) */
  queueUrl: 'ANEX_QUEUE_URL',
  /** tick: how long (s) the heartbeat loop keeps the node lease fresh before returning */
  tickWindowSeconds: 'ANEX_TICK_WINDOW_SECONDS',
  /** stop starting new work this many ms before the Lambda deadline */
  deadlineMarginMs: 'ANEX_DEADLINE_MARGIN_MS',
  /** Powertools logger level */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  /** Powertools service name (the `service` key of every log line) */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** agent: where the stack put the self-built agent binaries (functions/support/agent-binaries.ts) */
  agentBinaries: 'ANEX_AGENT_BINARIES_S3',
  /** tick, pod-events: the agent binary's SHA-256 per architecture, baked into the launch stub */
  agentSha256: 'ANEX_AGENT_SHA256',
} as const;

export const DEFAULT_TICK_WINDOW_SECONDS = 50;
export const DEFAULT_DEADLINE_MARGIN_MS = 5_000;

const positiveInt = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be greater than 0`)
    .default(fallback);

const functionEnvSchema = z.object({
  ...Object.fromEntries(
    Object.values(SECRET_LAYOUT).map(({ env }) => [
      env,
      z.string().startsWith('arn:', `${env} must be a secret ARN`).optional(),
    ]),
  ),
  [FUNCTION_ENV.queueUrl]: z.url('ANEX_QUEUE_URL must be an SQS queue URL').optional(),
  [FUNCTION_ENV.tickWindowSeconds]: positiveInt(FUNCTION_ENV.tickWindowSeconds, DEFAULT_TICK_WINDOW_SECONDS),
  [FUNCTION_ENV.deadlineMarginMs]: positiveInt(FUNCTION_ENV.deadlineMarginMs, DEFAULT_DEADLINE_MARGIN_MS),
});

/** What a function knows about its deployment, from its environment. */
export interface FunctionEnv {
  /** the ARN of each secret this function was given (one, in a deployed function) */
  secretArns: Partial<Record<SecretConsumer, string>>;
  queueUrl: string | undefined;
  tickWindowSeconds: number;
  deadlineMarginMs: number;
}

/**
 * Parses the deployment variables. A deployment mistake is a bug of ours or of the
 * operator, so it throws with every problem listed (the cold start fails loudly).
 */
export function readFunctionEnv(env: Readonly<Record<string, string | undefined>>): FunctionEnv {
  const parsed = functionEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new AnexError(`invalid function environment:\n${issues.join('\n')}`, { kind: 'internal' });
  }
  const data = parsed.data;
  return {
    secretArns: Object.fromEntries(
      Object.entries(SECRET_LAYOUT).flatMap(([consumer, { env }]) => {
        const arn = (data as Record<string, unknown>)[env];
        return typeof arn === 'string' ? [[consumer, arn]] : [];
      }),
    ),
    queueUrl: data[FUNCTION_ENV.queueUrl],
    tickWindowSeconds: data[FUNCTION_ENV.tickWindowSeconds],
    deadlineMarginMs: data[FUNCTION_ENV.deadlineMarginMs],
  };
}
