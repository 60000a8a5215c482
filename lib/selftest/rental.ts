import { isAnexError } from '../errors.ts';
import type { ProviderName } from '../offers/offer.ts';
import type { Provider } from '../providers/provider.ts';
import { markerLine } from '../tunnel/agent/stub.ts';
import type { HttpLog } from './http-log.ts';
import type { StepName, StepResult } from './report.ts';
import type { StepLog } from './steps.ts';
import { pollUntil, StepFailure } from './wait.ts';

/** How much of the longest duration is kept back for the destroy, in both modes (ADR 0018 §5). */
export const DESTROY_RESERVE = 0.2;

/**
 * What both selftest modes take; `P` is what the user confirms (the marker mode's offer, the
 * agent mode's pod on the stack).
 */
export interface SelftestRunOptions<P> {
  providerName: ProviderName;
  http: HttpLog;
  budgetUsd: number;
  /** the longest the run keeps the machine, every wait and the destroy included, ms */
  maxDurationMs: number;
  /** asked once the plan is known (the CLI: a prompt, or `--yes`) */
  confirm: (plan: P) => Promise<boolean>;
  /** each step as it ends, for live output */
  onStep?: (step: StepResult) => void;
  onPlan?: (plan: P) => void;
  /** the user's stop (Ctrl-C): waits end, the clean-up still runs */
  signal?: AbortSignal;
  /** @default 2000 */
  pollMs?: number;
  /** how long the clean-up may take, ms @default 180000 */
  cleanupMs?: number;
  image?: string;
  /** keep the log lines the marker step read in the report @default false */
  keepLogs?: boolean;
  now?: () => number;
}

export interface RentalWindowOptions {
  now: () => number;
  pollMs: number;
  /** the run's step log: check steps are recorded there */
  steps: StepLog;
  /** the user's stop (Ctrl-C) */
  signal?: AbortSignal | undefined;
}

/**
 * The rented machine's time window, shared by both selftest modes (ADR 0018 §5): the calls
 * and waits made while it is rented stop at {@link deadline} (the wall-clock limit the budget
 * allows) or at the user's stop; check steps stop at the user's stop too. Clean-up calls do
 * not go through here: nothing may stop them.
 */
export class RentalWindow {
  /** epoch ms past which no rental call or wait starts; 0 until a machine is rented */
  deadline = 0;

  readonly #o: RentalWindowOptions;

  constructor(options: RentalWindowOptions) {
    this.#o = options;
  }

  /** Options for a provider call made while rented: the deadline and the user's stop. */
  call(): { deadline: number; signal?: AbortSignal } {
    return { deadline: this.deadline, ...this.signal() };
  }

  /** The user's stop, when there is one, as a call option. */
  signal(): { signal?: AbortSignal } {
    return this.#o.signal === undefined ? {} : { signal: this.#o.signal };
  }

  /** Whether the user stopped the run (Ctrl-C). */
  interrupted(): boolean {
    return this.#o.signal?.aborted === true;
  }

  /** A rental wait: it ends at the deadline or the user's stop. */
  poll<T>(what: string, probe: () => Promise<T | undefined>, detail?: () => string): Promise<T> {
    return pollUntil({
      what,
      probe,
      ...(detail === undefined ? {} : { detail }),
      until: this.deadline,
      why: 'the wall-clock limit set by --budget and --max-minutes',
      pollMs: this.#o.pollMs,
      now: this.#o.now,
      signal: this.#o.signal,
    });
  }

  /** A check step (stopped by the user); clean-up steps use the StepLog directly. */
  step(name: StepName, body: () => Promise<string>): Promise<boolean> {
    return this.#o.steps.run(name, body, () => this.interrupted());
  }

  /**
   * The marker step of both modes: waits until the provider's log API shows the marker line of
   * `nonce` for instance `id` (read errors worth repeating are "not yet" and quoted on timeout;
   * a refused key ends it). `keep` gets the last lines read each time (for --keep-logs).
   * @returns the step's message
   */
  async marker(
    provider: Provider,
    providerName: ProviderName,
    id: string,
    nonce: string,
    keep: (lines: string[]) => void,
  ): Promise<string> {
    const read = provider.logs?.bind(provider);
    if (read === undefined) throw new StepFailure(`the ${providerName} adapter cannot read logs`);
    const wanted = markerLine(nonce);
    let last: string[] = [];
    let lastError = '';
    await this.poll(
      'the marker',
      async () => {
        try {
          last = await read(id, { tail: 200, ...this.call() });
          keep(last.slice(-50));
          lastError = '';
        } catch (error) {
          if (!isAnexError(error) || error.kind === 'auth') throw error;
          lastError = error.message;
          return undefined;
        }
        return last.some((line) => line.includes(wanted)) ? true : undefined;
      },
      () =>
        `"${wanted}" is not in the provider's log; ${
          lastError === '' ? `its last lines: ${JSON.stringify(last.slice(-5))}` : `last read: ${lastError}`
        }`,
    );
    return `"${wanted}"`;
  }
}
