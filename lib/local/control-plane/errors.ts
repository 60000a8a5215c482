import { AnexError } from '../../errors.ts';

/**
 * A part of the local control plane (a binary, openssl, etcd, kube-apiserver, …) could not be
 * built or started. The message names the part and why, so the user (or a test run) can act.
 */
export class ControlPlaneError extends AnexError {
  readonly part: string;

  constructor(part: string, reason: string, options: { cause?: unknown } = {}) {
    super(`${part}: ${reason}`, { kind: 'unavailable', retryable: false, cause: options.cause });
    this.part = part;
  }
}
