import { providerAccessFromEnv } from '../config/providers.ts';
import { PROVIDER_ENV, type Secret } from '../config/secrets.ts';
import { InvalidInputError } from '../errors.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { createProvider } from '../providers/index.ts';
import type { Provider } from '../providers/provider.ts';
import type { PaceStore } from '../state/store.ts';

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
  /** the store every process of this installation shares rate-limit slots through (ADR 0011) */
  paceLedger?: PaceStore,
): Partial<Record<ProviderName, Provider>> {
  const providers: Partial<Record<ProviderName, Provider>> = {};
  for (const [name, endpoint] of Object.entries(endpoints) as [ProviderName, ProviderEndpoint][]) {
    providers[name] = createProvider(name, {
      apiKey: endpoint.apiKey,
      baseUrl: endpoint.baseUrl,
      clusterId,
      paceLedger,
    });
  }
  return providers;
}

/** "VAST_API_KEY or RUNPOD_API_KEY" for messages. */
export function apiKeyVariables(): string {
  return PROVIDERS.map((p) => PROVIDER_ENV[p].apiKey).join(' or ');
}

/**
 * A registry that holds every image under `<registry host>/<path>` — the simulated
 * marketplace's (`anex sim` prints it) — asked for image configs instead of each image's own
 * registry. Local mode and tests only.
 */
export const REGISTRY_MIRROR_ENV = 'ANEX_REGISTRY_MIRROR';

/** @throws InvalidInputError naming the variable when it is not an http(s) URL */
export function registryMirrorFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const value = env[REGISTRY_MIRROR_ENV]?.trim();
  if (!value) return undefined;
  if (!/^https?:\/\/[^\s/]+\/?$/.test(value)) {
    throw new InvalidInputError([
      `${REGISTRY_MIRROR_ENV}: ${JSON.stringify(value)} is not a registry base URL (expected http(s)://host:port, e.g. the one \`anex sim\` prints)`,
    ]);
  }
  return value.replace(/\/$/, '');
}
