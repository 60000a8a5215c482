import { inspect } from 'node:util';
import { InvalidInputError } from '../errors.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';

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

/**
 * The one name set for provider credentials and endpoints: the environment variables of
 * `anex run`, `anex offers`/`explain` and `anex sim`'s `export` lines, the JSON keys of the
 * stack's secret (API keys), and the function settings (URLs). Nothing else defines them.
 */
export const PROVIDER_ENV = {
  vastai: { apiKey: 'VAST_API_KEY', url: 'VAST_API_URL' },
  runpod: { apiKey: 'RUNPOD_API_KEY', url: 'RUNPOD_API_URL' },
} as const satisfies Readonly<Record<ProviderName, { apiKey: string; url: string }>>;

/** Every secret variable: the API keys, and ANEX_KUBECONFIG (the YAML itself) in local mode. */
export const SECRET_ENV = {
  vastai: PROVIDER_ENV.vastai.apiKey,
  runpod: PROVIDER_ENV.runpod.apiKey,
  kubeconfig: 'ANEX_KUBECONFIG',
} as const;

type Source = Readonly<Record<string, unknown>>;

/**
 * The providers' API keys from `source` (the environment, or the stack secret's JSON object:
 * same names). Unset or empty = not configured. A malformed key is named, never echoed.
 */
export function providerKeysFrom(source: Source): Secrets['apiKeys'] {
  const keys: Secrets['apiKeys'] = {};
  const issues: string[] = [];
  for (const provider of PROVIDERS) {
    const name = PROVIDER_ENV[provider].apiKey;
    const value = source[name];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') issues.push(`${name}: expected the ${provider} API key as a string`);
    // Name the variable, never the value: a pasted key with a stray space still says nothing of itself.
    else if (/\s/.test(value)) issues.push(`${name}: the API key contains whitespace (copy it again)`);
    else keys[provider] = new Secret(value);
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return keys;
}

export function loadSecretsFromEnv(env: Readonly<Record<string, string | undefined>>): Secrets {
  const issues: string[] = [];
  let apiKeys: Secrets['apiKeys'] = {};
  try {
    apiKeys = providerKeysFrom(env);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    issues.push(...error.issues);
  }
  const secrets: Secrets = { apiKeys };
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
      `${PROVIDER_ENV[provider].apiKey} is not set: the ${provider} provider needs its API key`,
    ]);
  }
  return key;
}
