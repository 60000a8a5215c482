import { isAnexError } from '../../lib/errors.ts';

/**
 * The one error policy at the function edge (STYLE.md "Errors" 4):
 * - `retry`: the trigger should try again (rethrow; for a queue message, report it failed)
 * - `drop`: the input is wrong and retrying cannot help (report to the user, log, move on)
 * - `alert`: credentials refused — retrying cannot help either; loud log + metric + alarm
 * Anything that is not an AnexError is a bug of ours: retried (it may be transient) and logged
 * as an error, so the function's error alarm sees it.
 */
export type EdgeAction = 'retry' | 'drop' | 'alert';

export function edgeActionFor(error: unknown): EdgeAction {
  if (!isAnexError(error)) return 'retry';
  if (error.kind === 'auth') return 'alert';
  if (error.kind === 'invalid-input') return 'drop';
  return error.retryable || RETRY_KINDS.has(error.kind) ? 'retry' : 'drop';
}

/** Kinds worth another attempt even when the thrower did not flag the exact call as repeatable. */
const RETRY_KINDS = new Set(['unavailable', 'rate-limited', 'timeout', 'conflict', 'capacity']);
