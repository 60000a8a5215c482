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

/** The region a secret ARN names (`arn:aws:secretsmanager:<region>:…`); undefined for a name. */
export function regionOfSecret(secretId: string): string | undefined {
  return /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1];
}

/**
 * The provider's API key from the stack's reconciler secret (docs/deploy.md "Secrets": a JSON
 * object with VAST_API_KEY / RUNPOD_API_KEY), read with the caller's AWS credentials as the
 * functions read it. A secret is read in its own region, so an ARN's region wins over the
 * caller's default (a GetSecretValue sent to another region answers ResourceNotFoundException);
 * a name is read in the default region. The endpoint is the SDK's own choice, so
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL` apply. Errors name the secret, the
 * AWS error and its message, never a value.
 */
export async function apiKeyFromStack(
  secretId: string,
  provider: ProviderName,
  client?: Pick<SecretsManagerClient, 'send'>,
): Promise<string> {
  const region = regionOfSecret(secretId);
  const own =
    client === undefined ? new SecretsManagerClient(region === undefined ? {} : { region }) : undefined;
  let text: string | undefined;
  try {
    text = (
      await (client ?? (own as SecretsManagerClient)).send(new GetSecretValueCommand({ SecretId: secretId }))
    ).SecretString;
  } catch (error) {
    throw new AnexError(`--from-stack: cannot read secret ${secretId}: ${describeAwsError(error)}`, {
      kind: (error as Error).name === 'ResourceNotFoundException' ? 'not-found' : 'auth',
      cause: error,
    });
  } finally {
    // The SDK keeps its sockets open for reuse; this one-off read must not hold the process.
    own?.destroy();
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

/** `<ErrorCode>: <message>` as AWS answered it (the SDK's error name and message), or the failure's own words. */
function describeAwsError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = error.message.trim();
  return message === '' || message === error.name ? error.name : `${error.name}: ${message}`;
}
