import type { z } from 'zod';
import { AnexError } from '../../errors.ts';
import { redactText } from './redact.ts';

/** A response as the client returns it: status, headers and the body read once. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Raw body text (some vendors answer errors in plain text). */
  text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
  /** "<METHOD> <path>" without query, for messages. */
  route: string;
}

/**
 * Validates a response body at the boundary (zod `safeParse`). Unknown fields are tolerated
 * by the schemas; a missing or mistyped required field becomes kind `bad-response` naming
 * the field, so a vendor API change is reported as such and not as a crash deep inside.
 */
export function parseBody<T extends z.ZodType>(
  service: string,
  response: HttpResponse,
  schema: T,
): z.output<T> {
  if (response.json === undefined) {
    throw new AnexError(
      `${service} ${response.route} answered HTTP ${response.status} with a body that is not JSON: ` +
        `"${redactText(response.text, [], 120)}"`,
      { kind: 'bad-response' },
    );
  }
  const parsed = schema.safeParse(response.json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  throw new AnexError(
    `${service} ${response.route} answered a body anex cannot read: field "${field}": ${issue?.message ?? 'invalid'}`,
    { kind: 'bad-response', cause: parsed.error },
  );
}

/** Best-effort human text of an error body: JSON `detail`/`msg`/`message`/`error`, else the text. */
export function errorDetail(response: HttpResponse): string {
  const body = response.json;
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    for (const key of ['detail', 'msg', 'message', 'error', 'title']) {
      const value = record[key];
      if (typeof value === 'string' && value.length > 0) return value;
    }
  }
  return response.text.trim() || '(empty body)';
}

/**
 * The generic meaning of an HTTP status, used after the adapter has checked its vendor's
 * special cases (offer gone, capacity, image errors…).
 */
export function errorForStatus(
  service: string,
  response: HttpResponse,
  secrets: readonly string[],
): AnexError {
  const detail = redactText(errorDetail(response), secrets);
  const message = `${service} ${response.route} answered HTTP ${response.status}: ${detail}`;
  const { status } = response;
  if (status === 401 || status === 403) {
    return new AnexError(`${message} (check the API key and its permissions)`, { kind: 'auth' });
  }
  if (status === 402) return new AnexError(message, { kind: 'balance' });
  if (status === 404 || status === 410) return new AnexError(message, { kind: 'not-found' });
  if (status === 409) return new AnexError(message, { kind: 'conflict' });
  if (status === 429) return new AnexError(message, { kind: 'rate-limited', retryable: true });
  if (status >= 500) return new AnexError(message, { kind: 'unavailable', retryable: true });
  if (status === 400 || status === 422) return new AnexError(message, { kind: 'invalid-input' });
  return new AnexError(message, { kind: 'bad-response' });
}
