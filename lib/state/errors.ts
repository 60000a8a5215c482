import { AnexError, NETWORK_ERROR_CODES } from '../errors.ts';

/**
 * DynamoDB error classification (STYLE.md "Errors" 3: translated here and nowhere else).
 * A lost conditional write is not an error by itself: each Store method decides whether
 * it is an expected outcome (`false`, ignore) or a `conflict`; `isConditionFailed` lets
 * it tell. Everything else becomes an AnexError with the SDK error kept as `cause`.
 */
export function isConditionFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/** Throttling and server faults: the request was not applied, or is safe to repeat. */
const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TransactionConflictException',
]);

const AUTH = new Set([
  'UnrecognizedClientException',
  'AccessDeniedException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'MissingAuthenticationTokenException',
  'IncompleteSignature',
  'CredentialsProviderError',
]);

/** @param action what the store was doing, e.g. `put pod record 1234` (never item contents). */
export function translateDynamoError(error: unknown, action: string, tableName: string): AnexError {
  if (error instanceof AnexError) return error;
  const name = errorName(error);
  const status = httpStatus(error);
  const where = `DynamoDB table ${tableName}: ${action}`;
  if (name === 'ResourceNotFoundException') {
    return new AnexError(
      `${where} failed: the table does not exist (deploy the stack or check the table name)`,
      {
        kind: 'not-found',
        cause: error,
      },
    );
  }
  if (AUTH.has(name) || status === 401 || status === 403) {
    return new AnexError(`${where} was refused (${name}): check the credentials and IAM policy`, {
      kind: 'auth',
      cause: error,
    });
  }
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new AnexError(`${where} timed out or was aborted`, {
      kind: 'timeout',
      retryable: true,
      cause: error,
    });
  }
  if (
    RETRYABLE.has(name) ||
    (status !== undefined && status >= 500) ||
    NETWORK_ERROR_CODES.has(errorCode(error))
  ) {
    return new AnexError(`${where} failed (${name || errorCode(error)}): DynamoDB unavailable or throttled`, {
      kind: 'unavailable',
      retryable: true,
      cause: error,
    });
  }
  return new AnexError(`${where} failed unexpectedly (${name || 'unknown error'})`, {
    kind: 'internal',
    cause: error,
  });
}

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
}

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = error.$metadata as { httpStatusCode?: unknown } | undefined;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}
