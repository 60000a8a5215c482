import { providerAccessFromEnv } from '../config/providers.ts';
import { PROVIDER_ENV, type Secret } from '../config/secrets.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { createProvider } from '../providers/index.ts';
import type { Provider } from '../providers/provider.ts';

export interface ProviderEndpoint {
  /**
   * Plain text because the simulators' throwaway keys share this type (lib/local/simulated-market.ts,
   * printed by `anex sim`); a real key is revealed from its {@link Secret} only when the local
   * composition builds the adapter's options. Never logged.
   */
  apiKey: string;
  /** undefined: the real service */
  baseUrl?: string;
}

/** Providers with an API key in `env` (lib/config's names; the URL variable points at a simulator or proxy). */
export function providerEndpointsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<ProviderName, ProviderEndpoint>> {
  const access = providerAccessFromEnv(env);
  return Object.fromEntries(
    Object.entries(access).map(([name, a]) => [
      name,
      { apiKey: a.apiKey.reveal(), ...(a.baseUrl === undefined ? {} : { baseUrl: a.baseUrl }) },
    ]),
  );
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
