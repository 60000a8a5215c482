import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { PROVIDER_ENV, providerKeysFrom, Secret, type Secrets } from '../../lib/config/secrets.ts';
import { AnexError, InvalidInputError } from '../../lib/errors.ts';
import { SECRET_CONSUMERS, SECRET_LAYOUT, type SecretConsumer } from './secret-layout.ts';

/**
 * The stack's per-consumer secrets (secret-layout.ts, ADR 0022; filled by the operator as
 * docs/deploy.md says). Each function reads its own one once per cold start; values are
 * wrapped in {@link Secret} (prints `[redacted]`) and errors name the keys, never a value.
 * A key that belongs in another consumer's secret is refused, so the split cannot be undone
 * by pasting everything into one secret.
 */

/** tick and pod-events; `agent` has the same shape with no API keys. */
export interface ClusterCredentials {
  secrets: Secrets;
  wstunnelPathPrefix?: Secret;
}

export interface WebhookCredentials {
  webhookToken: Secret;
}

export interface CredentialsOf {
  reconciler: ClusterCredentials;
  agent: ClusterCredentials;
  webhook: WebhookCredentials;
}

const optionalText = z.string().min(1, 'must not be empty').optional();

const SCHEMAS = {
  reconciler: z.object({ kubeconfig: optionalText, wstunnelPathPrefix: optionalText }),
  agent: z.object({ kubeconfig: optionalText, wstunnelPathPrefix: optionalText }),
  webhook: z.object({ webhookToken: z.string().min(32, 'must be at least 32 characters') }),
} as const;

/** The first release's key names: refused with the new name rather than silently ignored. */
const RENAMED: Readonly<Record<string, string>> = {
  vastaiApiKey: PROVIDER_ENV.vastai.apiKey,
  runpodApiKey: PROVIDER_ENV.runpod.apiKey,
};

/** Parses `consumer`'s secret JSON; a problem is reported by key name only. */
export function parseCredentials<C extends SecretConsumer>(
  secretString: string,
  consumer: C,
): CredentialsOf[C] {
  const fail = (what: string): never => {
    throw new AnexError(`the anex ${consumer} secret ${what} (docs/deploy.md "Secrets" shows its keys)`, {
      kind: 'auth',
    });
  };
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    return fail('is not a JSON object');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('is not a JSON object');
  const object = json as Record<string, unknown>;
  const problems: string[] = [];
  const parsed = SCHEMAS[consumer].safeParse(object);
  if (!parsed.success)
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`));
  problems.push(...foreignKeys(object, consumer));
  const apiKeys = consumer === 'reconciler' ? keysOf(object, problems) : {};
  if (!parsed.success || problems.length > 0)
    fail(`has missing, malformed or misplaced keys: ${problems.join('; ')}`);
  const data = parsed.data as Record<string, string | undefined>;
  if (consumer === 'webhook') {
    return { webhookToken: new Secret(data.webhookToken ?? '') } as CredentialsOf[C];
  }
  const secrets: Secrets = { apiKeys };
  if (data.kubeconfig !== undefined) secrets.kubeconfig = new Secret(data.kubeconfig);
  return {
    secrets,
    ...(data.wstunnelPathPrefix === undefined
      ? {}
      : { wstunnelPathPrefix: new Secret(data.wstunnelPathPrefix) }),
  } as CredentialsOf[C];
}

/** Keys this consumer must not hold: named with where they belong, or as unknown. */
function foreignKeys(object: Record<string, unknown>, consumer: SecretConsumer): string[] {
  const own: readonly string[] = SECRET_LAYOUT[consumer].keys;
  const problems: string[] = [];
  for (const key of Object.keys(object)) {
    if (own.includes(key)) continue;
    const renamed = RENAMED[key];
    if (renamed !== undefined && consumer === 'reconciler') {
      problems.push(`${key} is now ${renamed} (rename the key)`);
      continue;
    }
    const home = SECRET_CONSUMERS.filter((c) => (SECRET_LAYOUT[c].keys as readonly string[]).includes(key));
    problems.push(
      home.length > 0
        ? `${key} does not belong here: it goes in the ${home.join(' and ')} secret only`
        : `${key} is not a key of this secret (expected: ${own.join(', ')})`,
    );
  }
  return problems;
}

function keysOf(object: Record<string, unknown>, problems: string[]): Secrets['apiKeys'] {
  try {
    return providerKeysFrom(object);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    problems.push(...error.issues);
    return {};
  }
}

/** Reads `consumer`'s secret from Secrets Manager (the SDK comes from the Lambda runtime). */
export async function loadCredentials<C extends SecretConsumer>(
  secretArn: string,
  consumer: C,
  client = new SecretsManagerClient({}),
): Promise<CredentialsOf[C]> {
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (result.SecretString === undefined) throw new Error('the secret has no string value');
    return parseCredentials(result.SecretString, consumer);
  } catch (error) {
    if (error instanceof AnexError) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    const kind =
      name === 'AccessDeniedException' || name === 'ResourceNotFoundException' ? 'auth' : 'unavailable';
    throw new AnexError(`cannot read the anex ${consumer} secret (${name})`, {
      kind,
      retryable: kind === 'unavailable',
      cause: error,
    });
  }
}
