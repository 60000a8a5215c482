import { AnexError } from '../../lib/errors.ts';

/**
 * A real part of the test ground (a control-plane binary, dynalite, openssl, Go) could not
 * be built or started. The message names the part and why; tests must fail with it, never skip.
 */
export class TestGroundError extends AnexError {
  readonly part: string;

  constructor(part: string, reason: string, options: { cause?: unknown } = {}) {
    super(`test ground: ${part}: ${reason}`, { kind: 'unavailable', retryable: false, cause: options.cause });
    this.part = part;
  }
}
