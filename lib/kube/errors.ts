import { ApiException } from '@kubernetes/client-node';
import { AnexError, NETWORK_ERROR_CODES } from '../errors.ts';

/**
 * Kubernetes API error classification (STYLE.md "Errors" 3: translated here and nowhere
 * else). `'gone'` outcomes (404 on a pod write) are decided by the caller with
 * {@link statusCode} before anything is thrown; what reaches `translateKubeError` is a
 * failure. Messages carry the API's own `Status.message` (never request headers, which
 * hold the bearer token).
 */
export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** @param action what anex was doing, e.g. `patch status of pod ns/name`. */
export function translateKubeError(error: unknown, action: string): AnexError {
  if (error instanceof AnexError) return error;
  const code = statusCode(error);
  if (code !== undefined) return fromStatus(code, `Kubernetes API: ${action}: ${apiMessage(error)}`, error);
  if (isAbort(error)) {
    return new AnexError(`Kubernetes API: ${action}: timed out or aborted`, {
      kind: 'timeout',
      retryable: true,
      cause: error,
    });
  }
  if (NETWORK_ERROR_CODES.has(networkCode(error)) || isFetchFailure(error)) {
    return new AnexError(
      `Kubernetes API: ${action}: cannot reach the API server (${networkCode(error) || 'fetch failed'})`,
      {
        kind: 'unavailable',
        retryable: true,
        cause: error,
      },
    );
  }
  return new AnexError(`Kubernetes API: ${action}: unexpected failure`, { kind: 'internal', cause: error });
}

function fromStatus(code: number, message: string, cause: unknown): AnexError {
  if (code === 401 || code === 403) {
    return new AnexError(`${message} (HTTP ${code}: check the kubeconfig and RBAC)`, { kind: 'auth', cause });
  }
  if (code === 404) return new AnexError(`${message} (not found)`, { kind: 'not-found', cause });
  if (code === 409)
    return new AnexError(`${message} (conflict)`, { kind: 'conflict', retryable: true, cause });
  if (code === 429)
    return new AnexError(`${message} (throttled)`, { kind: 'rate-limited', retryable: true, cause });
  if (code >= 500) {
    return new AnexError(`${message} (HTTP ${code})`, { kind: 'unavailable', retryable: true, cause });
  }
  // 400/422: the API refused what we sent — a bug on our side, not the user's input.
  return new AnexError(`${message} (HTTP ${code}: request refused)`, { kind: 'internal', cause });
}

/** The `message` of the Kubernetes Status body, when there is one. */
export function apiMessage(error: unknown): string {
  if (!(error instanceof ApiException)) return '';
  const body: unknown = typeof error.body === 'string' ? safeJson(error.body) : error.body;
  if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string') {
    return body.message;
  }
  return `HTTP ${error.code}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

function isFetchFailure(error: unknown): boolean {
  return error instanceof TypeError && error.message === 'fetch failed';
}

/** undici puts the socket error code on `cause`. */
function networkCode(error: unknown): string {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    if ('code' in e && typeof e.code === 'string') return e.code;
    e = 'cause' in e ? e.cause : undefined;
  }
  return '';
}
