import { createHash, timingSafeEqual } from 'node:crypto';
import { WEBHOOK_PATH_PREFIX } from '../../lib/manifests/webhook.ts';

/**
 * The admission webhook's caller check: the request path must be `/admit/<webhookToken>`
 * (lib/manifests/webhook.ts explains why the token rides in the path). Compared as SHA-256
 * digests in constant time, so neither the token's length nor its prefix leaks by timing.
 */
export function isWebhookPathAuthorized(rawPath: string, webhookToken: string): boolean {
  const expected = createHash('sha256').update(`${WEBHOOK_PATH_PREFIX}${webhookToken}`).digest();
  const actual = createHash('sha256').update(rawPath).digest();
  return timingSafeEqual(expected, actual);
}
