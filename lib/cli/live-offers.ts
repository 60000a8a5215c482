import type { Requirements } from '../annotations/requirements.ts';
import { type ProviderAccess, requireProviderAccess } from '../config/providers.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import { createProvider } from '../providers/index.ts';
import type { Ban } from '../state/store.ts';

/**
 * The API key and base URL of `provider` from the environment (lib/config's names), or an
 * error naming the variable to set and the alternative (`--offers <file>`).
 */
export function providerConfigFromEnv(
  provider: ProviderName,
  env: Readonly<Record<string, string | undefined>>,
): ProviderAccess {
  return requireProviderAccess(
    provider,
    env,
    `your ${provider} API key is needed to search live offers, or pass a saved provider response with --offers <file>`,
  );
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
  const access = providerConfigFromEnv(provider, env);
  const client = createProvider(provider, { apiKey: access.apiKey.reveal(), baseUrl: access.baseUrl });
  const now = Date.now();
  const excludeMachineIds = bans
    .filter((b) => b.provider === provider && b.expiresAt > now)
    .map((b) => b.machineId);
  return client.listOffers(requirements, { excludeMachineIds, deadline: now + 120_000 });
}
