// The process scope moved to lib/local/control-plane (one implementation for tests and `anex demo`).
import { type WaitOptions, waitUntil as waitUntilLocal } from '../../lib/local/control-plane/processes.ts';
import { asTestGroundError } from './as-test-ground-error.ts';

export {
  createProcessScope,
  type ManagedProcess,
  type ProcessScope,
  type SpawnOptions,
  type WaitOptions,
} from '../../lib/local/control-plane/processes.ts';

/** Polls `probe` until it returns true; throws a TestGroundError naming `what` otherwise. */
export function waitUntil(probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  return asTestGroundError(() => waitUntilLocal(probe, options));
}
