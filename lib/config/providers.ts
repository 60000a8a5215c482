import { InvalidInputError } from '../errors.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { PROVIDER_ENV, providerKeysFrom, type Secret } from './secrets.ts';
import { SETTINGS, type Setting } from './settings.ts';

/** How to reach one provider: its API key, and another origin than the public API if set. */
export interface ProviderAccess {
  apiKey: Secret;
  /** undefined: the provider's public API */
  baseUrl?: string;
}

/**
 * Providers configured in `env` ({@link PROVIDER_ENV}: VAST_API_KEY / RUNPOD_API_KEY, and
 * VAST_API_URL / RUNPOD_API_URL for a simulator or proxy). A provider without a key is absent.
 * Every problem is reported at once, naming the variable (and the URL, never a key) and the
 * accepted form.
 */
export function providerAccessFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<ProviderName, ProviderAccess>> {
  const issues: string[] = [];
  let keys: Partial<Record<ProviderName, Secret>> = {};
  try {
    keys = providerKeysFrom(env);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    issues.push(...error.issues);
  }
  const access: Partial<Record<ProviderName, ProviderAccess>> = {};
  for (const provider of PROVIDERS) {
    const url = providerUrl(provider, env, issues);
    const apiKey = keys[provider];
    if (apiKey !== undefined) access[provider] = { apiKey, ...(url === undefined ? {} : { baseUrl: url }) };
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return access;
}

/** One provider's access, or an error naming the variable to set (`hint` says what it is for). */
export function requireProviderAccess(
  provider: ProviderName,
  env: Readonly<Record<string, string | undefined>>,
  hint = `the ${provider} provider needs its API key`,
): ProviderAccess {
  const access = providerAccessFromEnv(env)[provider];
  if (access === undefined) {
    const name = PROVIDER_ENV[provider].apiKey;
    throw new InvalidInputError([`${name} is not set: ${hint} (export ${name}=<your ${provider} API key>)`]);
  }
  return access;
}

/** The URL variable, validated by its setting (the same rule the functions apply). */
function providerUrl(
  provider: ProviderName,
  env: Readonly<Record<string, string | undefined>>,
  issues: string[],
): string | undefined {
  const name = PROVIDER_ENV[provider].url;
  const text = env[name]?.trim();
  if (text === undefined || text === '') return undefined;
  const setting = (SETTINGS as readonly Setting[]).find((s) => s.env === name) as Setting;
  const parsed = setting.schema.safeParse(text);
  if (parsed.success) return parsed.data as string;
  issues.push(
    `${name}: ${JSON.stringify(text)} is not ${setting.form} (e.g. "http://127.0.0.1:8080" for \`anex sim\`)`,
  );
  return undefined;
}
