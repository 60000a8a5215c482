import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { createProvider } from '../providers/index.ts';
import type { Provider } from '../providers/provider.ts';

/** The environment variables that configure each provider in local mode and the CLI. */
export const PROVIDER_ENV: Readonly<Record<ProviderName, { apiKey: string; url: string }>> = {
  vastai: { apiKey: 'VAST_API_KEY', url: 'VAST_API_URL' },
  runpod: { apiKey: 'RUNPOD_API_KEY', url: 'RUNPOD_API_URL' },
};

/** lib/config's names for the same (lib/config/secrets.ts, settings.ts), accepted too. */
const CONFIG_ENV: Readonly<Record<ProviderName, { apiKey: string; url: string }>> = {
  vastai: { apiKey: 'ANEX_VASTAI_API_KEY', url: 'ANEX_VASTAI_BASE_URL' },
  runpod: { apiKey: 'ANEX_RUNPOD_API_KEY', url: 'ANEX_RUNPOD_BASE_URL' },
};

export interface ProviderEndpoint {
  apiKey: string;
  /** undefined: the real service */
  baseUrl?: string;
}

/** Providers with an API key in `env` (the URL variable points at a simulator or proxy). */
export function providerEndpointsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<ProviderName, ProviderEndpoint>> {
  const endpoints: Partial<Record<ProviderName, ProviderEndpoint>> = {};
  for (const name of PROVIDERS) {
    const apiKey = env[PROVIDER_ENV[name].apiKey] || env[CONFIG_ENV[name].apiKey];
    const url = env[PROVIDER_ENV[name].url] || env[CONFIG_ENV[name].url];
    if (apiKey) endpoints[name] = { apiKey, ...(url ? { baseUrl: url } : {}) };
  }
  return endpoints;
}

export function providersFor(
  endpoints: Partial<Record<ProviderName, ProviderEndpoint>>,
  clusterId: string,
): Partial<Record<ProviderName, Provider>> {
  const providers: Partial<Record<ProviderName, Provider>> = {};
  for (const [name, endpoint] of Object.entries(endpoints) as [ProviderName, ProviderEndpoint][]) {
    providers[name] = createProvider(name, { apiKey: endpoint.apiKey, baseUrl: endpoint.baseUrl, clusterId });
  }
  return providers;
}

/** "VAST_API_KEY or RUNPOD_API_KEY" for messages. */
export function apiKeyVariables(): string {
  return PROVIDERS.map((p) => PROVIDER_ENV[p].apiKey).join(' or ');
}
