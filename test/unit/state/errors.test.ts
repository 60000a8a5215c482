import { describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { isConditionFailed, translateDynamoError } from '../../../lib/state/errors.ts';

function sdkError(name: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...fields });
}

describe('translateDynamoError', () => {
  it.each([
    ['ResourceNotFoundException', sdkError('ResourceNotFoundException'), 'not-found', false],
    ['AccessDeniedException', sdkError('AccessDeniedException'), 'auth', false],
    ['UnrecognizedClientException', sdkError('UnrecognizedClientException'), 'auth', false],
    ['a 403 of unknown name', sdkError('Weird', { $metadata: { httpStatusCode: 403 } }), 'auth', false],
    [
      'ProvisionedThroughputExceededException',
      sdkError('ProvisionedThroughputExceededException'),
      'unavailable',
      true,
    ],
    ['ThrottlingException', sdkError('ThrottlingException'), 'unavailable', true],
    ['a 503 of unknown name', sdkError('Weird', { $metadata: { httpStatusCode: 503 } }), 'unavailable', true],
    ['a refused connection', sdkError('Error', { code: 'ECONNREFUSED' }), 'unavailable', true],
    ['an abort', sdkError('AbortError'), 'timeout', true],
    ['ValidationException (our bug)', sdkError('ValidationException'), 'internal', false],
  ])('classifies %s', (_, error, kind, retryable) => {
    const translated = translateDynamoError(error, 'read pod record 1', 'anex');
    expect(translated).toBeInstanceOf(AnexError);
    expect(translated).toMatchObject({ kind, retryable, cause: error });
    expect(translated.message).toContain('DynamoDB table anex: read pod record 1');
  });

  it('passes an AnexError through unchanged', () => {
    const error = new AnexError('already ours', { kind: 'conflict' });
    expect(translateDynamoError(error, 'x', 'anex')).toBe(error);
  });

  it.each([
    [sdkError('ConditionalCheckFailedException'), true],
    [sdkError('ThrottlingException'), false],
    ['not an error', false],
  ])('tells a lost condition apart (%#)', (error, expected) => {
    expect(isConditionFailed(error)).toBe(expected);
  });
});
