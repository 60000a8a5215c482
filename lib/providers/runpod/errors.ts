import { AnexError } from '../../errors.ts';
import { redactText } from '../http/redact.ts';
import { errorDetail, errorForStatus, type HttpResponse } from '../http/response.ts';
import { runPodProblemSchema } from './schemas.ts';

/**
 * RunPod error vocabulary in named sets (providers.md §3.4, §3.6, §3.12, §5). Only this file
 * knows what RunPod's statuses and texts mean.
 */

/** No machine for this GPU type / data center / cloud right now: try the next candidate. */
export const CAPACITY_TEXT =
  /no longer any instances available|no instances currently available|does not have the resources|no compatible cuda host|not enough free gpus/i;

/** Balance texts (v1 sends them as HTTP 500, v2 as 402). */
export const BALANCE_TEXT = /balance is too low|insufficient (balance|funds)/i;

export function isCapacity(response: HttpResponse): boolean {
  return (response.status === 400 || response.status === 500) && CAPACITY_TEXT.test(errorDetail(response));
}

/**
 * A 403 on create that names a pool (this GPU type / data center / cloud is closed to the key:
 * the POST table's "cannot access the requested pool") skips the candidate like a capacity
 * miss (providers.md §3.6, §5). Any other 403 is the key's scope (`ForbiddenError`: "does not
 * grant access to the requested resource or action", a read-only key): `auth`, which stops
 * creates and says so, rather than every candidate failing "for capacity" (runpod audit #6).
 */
export function isPoolForbidden(response: HttpResponse): boolean {
  return response.status === 403 && /\bpool\b/i.test(errorDetail(response));
}

/**
 * A 400 that is not a capacity text: "either it breaks a cross-field rule, or this GPU and
 * data center combination could not be placed → Try your next candidate" (v2 `POST /v2/pods`
 * 400; runpod audit #5). The candidate is refused, not the request.
 */
export function isCandidateRefused(response: HttpResponse): boolean {
  return response.status === 400;
}

/** The reason a forbidden pool gives the reconciler: it names the 403 so events and lastError say why. */
export function poolForbiddenReason(response: HttpResponse, secrets: readonly string[]): string {
  return `HTTP 403 on this GPU pool, candidate skipped: ${redactText(errorDetail(response), secrets)}`;
}

/** The AnexError for a RunPod error answer (capacity ruled out before). */
export function runPodError(response: HttpResponse, secrets: readonly string[]): AnexError {
  const parsed = runPodProblemSchema.safeParse(response.json);
  const detail = redactText(errorDetail(response), secrets);
  const where = `runpod ${response.route} answered HTTP ${response.status}`;
  if (response.status === 401 || response.status === 403) {
    return new AnexError(`${where}: ${detail} (check RUNPOD_API_KEY and its permissions)`, { kind: 'auth' });
  }
  if (response.status === 402 || BALANCE_TEXT.test(detail)) {
    return new AnexError(`${where}: ${detail} (add funds to the RunPod account)`, { kind: 'balance' });
  }
  if (response.status === 422) {
    const errors =
      parsed.success && parsed.data.errors ? parsed.data.errors.map((e) => redactText(e, secrets)) : [];
    return new AnexError(`${where}: the request broke the API contract: ${[detail, ...errors].join('; ')}`, {
      kind: 'invalid-input',
    });
  }
  return errorForStatus('runpod', response, secrets);
}
