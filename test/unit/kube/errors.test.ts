import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { statusCode, translateKubeError } from '../../../lib/kube/errors.ts';

const status = (code: number, message = 'pods "x" is forbidden') =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', message }), {
    authorization: 'Bearer secret-token',
  });

describe('translateKubeError', () => {
  it.each([
    [401, 'auth', false],
    [403, 'auth', false],
    [404, 'not-found', false],
    [409, 'conflict', true],
    [422, 'internal', false],
    [429, 'rate-limited', true],
    [500, 'unavailable', true],
    [503, 'unavailable', true],
  ])('maps HTTP %d to %s (retryable %s)', (code, kind, retryable) => {
    const error = translateKubeError(status(code), 'list pods on node anex-vastai');
    expect(error).toBeInstanceOf(AnexError);
    expect(error).toMatchObject({ kind, retryable });
    expect(error.message).toContain('list pods on node anex-vastai: pods "x" is forbidden');
    expect(error.message).not.toContain('secret-token');
  });

  it.each([
    [
      'a refused connection',
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      'unavailable',
    ],
    [
      'a socket error',
      Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
      'unavailable',
    ],
    ['an abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'timeout'],
    ['something else', new RangeError('bug'), 'internal'],
  ])('maps %s', (_, error, kind) => {
    expect(translateKubeError(error, 'x').kind).toBe(kind);
  });

  it('reads the status code only from API exceptions', () => {
    expect(statusCode(status(404))).toBe(404);
    expect(statusCode(new Error('x'))).toBeUndefined();
  });
});
