import type { Requirements } from '../annotations/requirements.ts';
import { InvalidInputError } from '../errors.ts';
import { PROVIDER_ENV } from '../local/provider-env.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import { createProvider } from '../providers/index.ts';
import type { Ban } from '../state/store.ts';

/** Reads the API key and base URL of `provider` from the environment, or says what is missing. */
export function providerConfigFromEnv(
  provider: ProviderName,
  env: Readonly<Record<string, string | undefined>>,
): { apiKey: string; baseUrl: string | undefined } {
  const names = PROVIDER_ENV[provider];
  const apiKey = env[names.apiKey]?.trim();
  if (!apiKey) {
    throw new InvalidInputError([
      `${names.apiKey} is not set: export your ${provider} API key as ${names.apiKey} to search live offers, ` +
        'or pass a saved provider response with --offers <file>',
    ]);
  }
  const baseUrl = env[names.url]?.trim() || undefined;
  if (baseUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(baseUrl)) {
    throw new InvalidInputError([
      `${names.url}: ${JSON.stringify(baseUrl)} is not an http(s) URL (e.g. "http://127.0.0.1:8080" for \`anex sim\`)`,
    ]);
  }
  return { apiKey, baseUrl };
}

/**
 * Live offers for `anex offers` without `--offers`: searches the provider with the pod's
 * requirements (server-side filters where the API has them, bans pushed as exclusions) and
 * returns normalized offers for the filter engine, which re-applies every filter locally.
 * Keys come from VAST_API_KEY / RUNPOD_API_KEY; VAST_API_URL / RUNPOD_API_URL point the CLI at
 * another origin (e.g. `anex sim`).
 */
export async function fetchLiveOffers(
  provider: ProviderName,
  requirements: Requirements,
  bans: readonly Ban[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Offer[]> {
  const config = providerConfigFromEnv(provider, env);
  const client = createProvider(provider, config);
  const now = Date.now();
  const excludeMachineIds = bans
    .filter((b) => b.provider === provider && b.expiresAt > now)
    .map((b) => b.machineId);
  return client.listOffers(requirements, { excludeMachineIds, deadline: now + 120_000 });
}
