import { inspect } from 'node:util';
import { InvalidInputError } from '../errors.ts';
import type { ProviderName } from '../offers/offer.ts';

/**
 * A secret value that cannot leak by accident: logging, JSON, string interpolation and
 * `util.inspect` all print `[redacted]`; only {@link Secret.reveal} gives the value, at the
 * one place that sends it (an Authorization header, a KubeConfig).
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

/**
 * Credentials, kept apart from AnexConfig (which may be logged). In AWS they come from the
 * stack's Secrets Manager secret (functions/support/credentials.ts); locally from the
 * environment ({@link loadSecretsFromEnv}).
 */
export interface Secrets {
  apiKeys: Partial<Record<ProviderName, Secret>>;
  /** kubeconfig YAML (credentials inline) */
  kubeconfig?: Secret;
}

/** Local mode: ANEX_<PROVIDER>_API_KEY, and ANEX_KUBECONFIG (the YAML itself) if set. */
export const SECRET_ENV = {
  vastai: 'ANEX_VASTAI_API_KEY',
  runpod: 'ANEX_RUNPOD_API_KEY',
  kubeconfig: 'ANEX_KUBECONFIG',
} as const;

export function loadSecretsFromEnv(env: Readonly<Record<string, string | undefined>>): Secrets {
  const secrets: Secrets = { apiKeys: {} };
  const issues: string[] = [];
  for (const provider of ['vastai', 'runpod'] as const) {
    const value = env[SECRET_ENV[provider]];
    if (value === undefined || value === '') continue;
    // Name the variable, never the value: a pasted key with a stray space still says nothing of itself.
    if (/\s/.test(value))
      issues.push(`${SECRET_ENV[provider]}: the API key contains whitespace (copy it again)`);
    else secrets.apiKeys[provider] = new Secret(value);
  }
  const kubeconfig = env[SECRET_ENV.kubeconfig];
  if (kubeconfig !== undefined && kubeconfig !== '') {
    if (!/^\s*(apiVersion|kind|clusters|users|contexts|current-context)\s*:/m.test(kubeconfig)) {
      issues.push(
        `${SECRET_ENV.kubeconfig}: not a kubeconfig document (expected YAML with clusters, users, contexts)`,
      );
    } else secrets.kubeconfig = new Secret(kubeconfig);
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return secrets;
}

/** The API key for `provider`, or an error saying which variable to set. */
export function requireApiKey(secrets: Secrets, provider: ProviderName): Secret {
  const key = secrets.apiKeys[provider];
  if (key === undefined) {
    throw new InvalidInputError([
      `${SECRET_ENV[provider]} is not set: the ${provider} provider needs its API key`,
    ]);
  }
  return key;
}
