/**
 * One error hierarchy for failures (STYLE.md "Errors"). Expected outcomes — filter
 * rejections, `'gone'` from an idempotent delete, an offer taken by another renter — are
 * returned as values, never thrown. What is thrown is an {@link AnexError} whose `kind`
 * drives the single error policy at the function edge, with the vendor/Kubernetes/DynamoDB
 * error kept as `cause`. Adapters translate their vendor's errors into these and nowhere else.
 */
export type ErrorKind =
  /** the thing asked for does not exist (and that is not an expected outcome at this call) */
  | 'not-found'
  /** the provider has no capacity for the request right now */
  | 'capacity'
  /** the provider refused the request before processing it (429) */
  | 'rate-limited'
  /** the dependency is down or answered 5xx; a read may be retried */
  | 'unavailable'
  /** credentials missing, wrong or lacking permission */
  | 'auth'
  /** the provider account cannot pay */
  | 'balance'
  /** a conditional write or optimistic-concurrency check lost */
  | 'conflict'
  /** the input (annotation, flag, request body) is wrong; the message says how to fix it */
  | 'invalid-input'
  /** the call ran past its deadline or was aborted */
  | 'timeout'
  /** a create was sent but its outcome is unknown: look for the tagged instance, never resend */
  | 'unknown-outcome'
  /** the dependency answered something we cannot understand (schema mismatch) */
  | 'bad-response'
  /** a bug or broken invariant on our side */
  | 'internal';

export interface AnexErrorOptions {
  kind: ErrorKind;
  /** true when the same call may be repeated as is (by the trigger or a retry loop) */
  retryable?: boolean;
  cause?: unknown;
}

/** Base of every failure anex throws on purpose. */
export class AnexError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;

  constructor(message: string, options: AnexErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = options.kind;
    this.retryable = options.retryable ?? false;
  }
}

/** User input is wrong. `issues` lists every problem found, not just the first. */
export class InvalidInputError extends AnexError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[], options: { cause?: unknown } = {}) {
    super(issues.join('\n'), { kind: 'invalid-input', retryable: false, cause: options.cause });
    this.issues = issues;
  }
}

export function isAnexError(error: unknown): error is AnexError {
  return error instanceof AnexError;
}

/**
 * Socket error codes (Node and undici) meaning the server could not be reached or dropped
 * the connection: every client translates them to a retryable `unavailable`.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);
