import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { PROVIDER_ENV, providerKeysFrom, Secret, type Secrets } from '../../lib/config/secrets.ts';
import { AnexError, InvalidInputError } from '../../lib/errors.ts';

/**
 * The stack's secret (infra/constructs/credentials-secret.ts, filled by the operator as
 * docs/deploy.md says), as lib/config's {@link Secrets} plus the webhook token. Read once per
 * cold start; values are wrapped in {@link Secret} (prints `[redacted]`) and errors name the
 * keys, never a value.
 */
const credentialsSchema = z.object({
  webhookToken: z.string().min(16, 'must be at least 16 characters'),
  kubeconfig: z.string().min(1).optional(),
  /** the gateway's wstunnel path prefix (lib/tunnel/gateway), only with ANEX_GATEWAY_WSS_URL */
  wstunnelPathPrefix: z.string().min(1).optional(),
});

/** The first release's key names: refused with the new name rather than silently ignored. */
const RENAMED: Readonly<Record<string, string>> = {
  vastaiApiKey: PROVIDER_ENV.vastai.apiKey,
  runpodApiKey: PROVIDER_ENV.runpod.apiKey,
};

export interface Credentials {
  secrets: Secrets;
  webhookToken: Secret;
  wstunnelPathPrefix?: Secret;
}

/** Parses the secret's JSON; a problem is reported by key name only. */
export function parseCredentials(secretString: string): Credentials {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new AnexError('the anex secret is not a JSON object (docs/deploy.md shows its keys)', {
      kind: 'auth',
    });
  }
  const parsed = credentialsSchema.safeParse(json);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`);
  const object = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  for (const [old, name] of Object.entries(RENAMED)) {
    if (old in object) problems.push(`${old} is now ${name} (rename the key)`);
  }
  // The API keys carry the same names as in local mode's environment (lib/config PROVIDER_ENV).
  const apiKeys = parsed.success ? keysOf(object, problems) : {};
  if (!parsed.success || problems.length > 0) {
    throw new AnexError(`the anex secret has missing or malformed keys: ${problems.join('; ')}`, {
      kind: 'auth',
    });
  }
  const { webhookToken, kubeconfig, wstunnelPathPrefix } = parsed.data;
  const secrets: Secrets = { apiKeys };
  if (kubeconfig !== undefined) secrets.kubeconfig = new Secret(kubeconfig);
  return {
    secrets,
    webhookToken: new Secret(webhookToken),
    ...(wstunnelPathPrefix === undefined ? {} : { wstunnelPathPrefix: new Secret(wstunnelPathPrefix) }),
  };
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

/** Reads the secret from Secrets Manager (the SDK comes from the Lambda runtime). */
export async function loadCredentials(
  secretArn: string,
  client = new SecretsManagerClient({}),
): Promise<Credentials> {
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (result.SecretString === undefined) throw new Error('the secret has no string value');
    return parseCredentials(result.SecretString);
  } catch (error) {
    if (error instanceof AnexError) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    const kind =
      name === 'AccessDeniedException' || name === 'ResourceNotFoundException' ? 'auth' : 'unavailable';
    throw new AnexError(`cannot read the anex secret (${name})`, {
      kind,
      retryable: kind === 'unavailable',
      cause: error,
    });
  }
}
