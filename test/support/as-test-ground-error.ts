import { ControlPlaneError } from '../../lib/local/control-plane/errors.ts';
import { TestGroundError } from './errors.ts';

/**
 * The launcher lives in lib/local/control-plane (shared with `anex demo`) and throws
 * ControlPlaneError; the test ground's contract is TestGroundError naming the part.
 */
export async function asTestGroundError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ControlPlaneError) {
      throw new TestGroundError(error.part, error.message.slice(error.part.length + 2), { cause: error });
    }
    throw error;
  }
}
