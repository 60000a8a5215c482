import { type ErrorKind, isAnexError } from '../errors.ts';

/** One failure inside a pass, kept as a value: a pod's error never aborts the others. */
export interface PassError {
  /** what was being done, e.g. "list vastai instances", "provision default/train" */
  scope: string;
  kind: ErrorKind | 'unexpected';
  retryable: boolean;
  message: string;
}

/**
 * Maps anything thrown to a PassError. AnexErrors keep their kind; anything else is a bug
 * on our side (`unexpected`). Messages are the adapters' own, which never carry secrets.
 */
export function passError(scope: string, error: unknown): PassError {
  if (isAnexError(error)) {
    return { scope, kind: error.kind, retryable: error.retryable, message: `${scope}: ${error.message}` };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { scope, kind: 'unexpected', retryable: false, message: `${scope}: ${message}` };
}
