import { createHash, timingSafeEqual } from 'node:crypto';
import { MUTATE_PATH_PREFIX, WEBHOOK_PATH_PREFIX } from '../../lib/manifests/webhook.ts';

/** Which of the admission function's webhooks a request is for. */
export type WebhookRoute = 'validate' | 'mutate';

const ROUTES: readonly (readonly [string, WebhookRoute])[] = [
  [WEBHOOK_PATH_PREFIX, 'validate'],
  [MUTATE_PATH_PREFIX, 'mutate'],
];

function sameDigest(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * The admission webhook's caller check and route: the request path must be
 * `/admit/<webhookToken>` (validating) or `/mutate/<webhookToken>` (mutating);
 * lib/manifests/webhook.ts explains why the token rides in the path. Each candidate is compared
 * as a SHA-256 digest in constant time, so neither the token's length nor its prefix leaks by
 * timing. Undefined: not authorized.
 */
export function webhookRoute(rawPath: string, webhookToken: string): WebhookRoute | undefined {
  let route: WebhookRoute | undefined;
  // Every candidate is compared (no early return): the time taken does not say which matched.
  for (const [prefix, name] of ROUTES) if (sameDigest(`${prefix}${webhookToken}`, rawPath)) route = name;
  return route;
}

/** Whether the path is one of the admission function's authorized paths. */
export function isWebhookPathAuthorized(rawPath: string, webhookToken: string): boolean {
  return webhookRoute(rawPath, webhookToken) !== undefined;
}
