import { InvalidInputError } from '../../lib/errors.ts';

/**
 * Runs `run`, which must throw an InvalidInputError, and returns its issues (every problem it
 * found, each naming the input). Any other error is rethrown so the test shows it.
 */
export function invalidInputIssues(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInputError) return [...error.issues];
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}
