import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PROVIDER_ENV, providerKeysFrom } from '../config/secrets.ts';
import { AnexError, InvalidInputError } from '../errors.ts';
import type { ProviderName } from '../offers/offer.ts';

/** What `--from-stack` accepts: a Secrets Manager ARN or a secret name. */
const SECRET_ID =
  /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$/;

/** @throws InvalidInputError naming the flag and the accepted form */
export function checkSecretId(value: string): string {
  if (!SECRET_ID.test(value)) {
    throw new InvalidInputError([
      `--from-stack: ${JSON.stringify(value)} is not a Secrets Manager secret ARN or name ` +
        '(e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:anex-reconciler-AbCdEf)',
    ]);
  }
  return value;
}

/**
 * The provider's API key from the stack's reconciler secret (docs/deploy.md "Secrets": a JSON
 * object with VAST_API_KEY / RUNPOD_API_KEY), read with the caller's AWS credentials as the
 * functions read it. Errors name the secret and the key, never a value.
 */
export async function apiKeyFromStack(
  secretId: string,
  provider: ProviderName,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): Promise<string> {
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    throw new AnexError(`--from-stack: cannot read secret ${secretId}: ${(error as Error).name}`, {
      kind: 'auth',
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    throw new AnexError(`--from-stack: secret ${secretId} is not a JSON object`, { kind: 'invalid-input' });
  }
  const key = providerKeysFrom((json ?? {}) as Record<string, unknown>)[provider];
  if (key === undefined) {
    throw new AnexError(`--from-stack: secret ${secretId} has no ${PROVIDER_ENV[provider].apiKey}`, {
      kind: 'invalid-input',
    });
  }
  return key.reveal();
}
