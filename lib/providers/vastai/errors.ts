import { AnexError } from '../../errors.ts';
import { redactText } from '../http/redact.ts';
import { errorDetail, errorForStatus, type HttpResponse } from '../http/response.ts';
import type { FailureFault } from '../provider.ts';

/**
 * Vast.ai error vocabulary, grouped into named sets (providers.md §2.3, §2.8, §2.13, §5).
 * Only this file knows what Vast's codes and texts mean.
 */

/** The offer vanished between search and rent: a market race, never a ban. */
export const OFFER_GONE = {
  codes: new Set(['no_such_ask']),
  internalCodes: /\b(3603|3907)\b/,
  text: /no_such_ask|no longer available|not available/i,
  statuses: new Set([400, 404, 410]),
};

/** Texts that mean a status message reports a failure at all (vast-cli self-test). */
export const ERROR_LOOKING = /error|failed|failure|exception|traceback|oci runtime|permission denied/i;

/**
 * Image-pull failures (vast-cli `classify_status_msg`), checked BEFORE the daemon set because
 * pull errors often say "Error response from daemon". "permission denied" is a runtime
 * (host) error, not a registry denial, hence the lookbehind.
 */
export const IMAGE_PULL =
  /pull|manifest|not found|unauthorized|(?<!permission )denied|repository does not exist|no such image|pull access denied/i;

/** Daemon/startup failures: the host's fault. */
export const HOST_FAULT =
  /daemon|container|startup|failed to start|oci runtime|runc|nvidia-container|docker|exited|exec format error|permission denied|mount|entrypoint/i;

/** `actual_status` values that "will never reach running" (Vast hello-world docs). */
export const DEAD_STATUSES = new Set(['unknown', 'offline']);

/**
 * `exited`: "Container process exited unexpectedly" (vast-cli SKILL.md) — yet in args runtype
 * the container's main process is the agent or the workload, so a normal finish ends there
 * too (vast audit #7). It is the container's end, not a host fault: the reconciler decides
 * from the agent's reports whether the workload ended or the boot never happened.
 */
export const EXITED_STATUS = 'exited';

export const AUTH = {
  codes: new Set(['auth_error', 'invalid_token']),
  text: /invalid user key|not authori[sz]ed/i,
};
export const BALANCE = {
  codes: new Set(['insufficient_credit', 'missing_billing']),
  text: /insufficient[_ ]credit|lacks credit|balance/i,
};

/**
 * Vast's message once the container runs embeds the image: `success, running
 * nvidia/cuda_…/ssh` (show_instances.yaml). It reports no failure whatever the image is called.
 */
export const SUCCESS_MESSAGE = /^success, running /i;

/**
 * Which fault an error-looking `status_msg` reports; undefined when it reports none. The
 * instance's own image name is taken out first: `Pulling image org/failed-jobs` or `success,
 * running org/failed-jobs/args` say nothing about a failure (vast audit #16). vast-cli's
 * `wait_for_instance` only checks `'Error' in status_msg`; this reads more, so it must not
 * read the image name as an error.
 */
export function faultOfStatusMessage(
  message: string | null | undefined,
  image?: string | null,
): FailureFault | undefined {
  if (!message || SUCCESS_MESSAGE.test(message.trimStart())) return undefined;
  const text = image ? message.split(image).join(' ') : message;
  if (!ERROR_LOOKING.test(text)) return undefined;
  if (IMAGE_PULL.test(text)) return 'image';
  if (HOST_FAULT.test(text)) return 'host';
  return 'unknown';
}

function codeOf(response: HttpResponse): string | undefined {
  const body = response.json as { error?: unknown } | undefined;
  return typeof body?.error === 'string' ? body.error : undefined;
}

/** True when a create answer says the ask is gone (404/410/400 `no_such_ask`, 3603, 3907). */
export function isOfferGone(response: HttpResponse): boolean {
  if (!OFFER_GONE.statuses.has(response.status)) return false;
  const code = codeOf(response);
  const detail = errorDetail(response);
  if (code && OFFER_GONE.codes.has(code)) return true;
  if (OFFER_GONE.internalCodes.test(detail) || OFFER_GONE.text.test(detail)) return true;
  // A 404/410 on create can only mean the ask id is unknown or taken.
  return response.status === 410;
}

/** The AnexError for a Vast error answer (after offer-gone has been ruled out). */
export function vastError(response: HttpResponse, secrets: readonly string[]): AnexError {
  const code = codeOf(response);
  const detail = redactText(errorDetail(response), secrets);
  const where = `vastai ${response.route} answered HTTP ${response.status}`;
  if ((code && AUTH.codes.has(code)) || AUTH.text.test(detail)) {
    return new AnexError(`${where}: ${detail} (check VAST_API_KEY and its permissions)`, { kind: 'auth' });
  }
  if ((code && BALANCE.codes.has(code)) || BALANCE.text.test(detail)) {
    return new AnexError(`${where}: ${detail} (add credit to the Vast.ai account)`, { kind: 'balance' });
  }
  if (response.status === 400 && code) {
    return new AnexError(`${where}: ${code}: ${detail}`, { kind: 'invalid-input' });
  }
  return errorForStatus('vastai', response, secrets);
}
