import type { Requirements } from '../annotations/requirements.ts';
import { AnexError } from '../errors.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Ban } from '../state/store.ts';

/**
 * Live offers for `anex offers` without `--offers`: searches the provider with the pod's
 * requirements (server-side filters where the API has them) and returns normalized offers
 * for the filter engine, which re-applies every filter locally.
 *
 * Placeholder until the provider clients land (lib/providers); their engineer replaces the
 * body. Until then it fails with a message that says what to do instead.
 */
export async function fetchLiveOffers(
  provider: ProviderName,
  _requirements: Requirements,
  _bans: readonly Ban[],
): Promise<Offer[]> {
  throw new AnexError(
    `live offers from ${provider} need the provider clients, which are not wired into the CLI yet; ` +
      'pass a saved provider response with --offers <file>',
    { kind: 'unavailable' },
  );
}
