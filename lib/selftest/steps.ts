import { STEP_NAMES, type StepName, type StepResult } from './report.ts';
import { StepFailure, stopMessage } from './wait.ts';

/**
 * Runs, times and records the steps, and tells each one as it ends. A step's failure message is
 * whoever failed's own words; a step cut short by the user's stop says so instead of quoting
 * the aborted call.
 */
export class StepLog {
  readonly #steps = new Map<StepName, StepResult>();
  readonly #now: () => number;
  readonly #onStep: ((step: StepResult) => void) | undefined;
  readonly #names: readonly StepName[];

  constructor(
    now: () => number,
    onStep?: (step: StepResult) => void,
    names: readonly StepName[] = STEP_NAMES,
  ) {
    this.#now = now;
    this.#onStep = onStep;
    this.#names = names;
  }

  /** @returns true when the step held */
  async run(
    name: StepName,
    body: () => Promise<string>,
    stopped: () => boolean = () => false,
  ): Promise<boolean> {
    const started = this.#now();
    let status: StepResult['status'] = 'ok';
    let message: string;
    try {
      message = await body();
    } catch (error) {
      status = 'fail';
      message =
        stopped() && !(error instanceof StepFailure)
          ? stopMessage(name)
          : error instanceof Error
            ? error.message
            : String(error);
    }
    this.#record({ name, status, seconds: Math.round((this.#now() - started) / 100) / 10, message });
    return status === 'ok';
  }

  skip(name: StepName, message: string): void {
    this.#record({ name, status: 'skipped', seconds: null, message });
  }

  /** Every step in order; one that never ran is skipped. */
  all(): StepResult[] {
    return this.#names.map(
      (name) => this.#steps.get(name) ?? { name, status: 'skipped', seconds: null, message: '' },
    );
  }

  #record(step: StepResult): void {
    this.#steps.set(step.name, step);
    this.#onStep?.(step);
  }
}
