import type { Provider } from '../providers/provider.ts';
import type { HttpLog } from './http-log.ts';
import { selftestInstances } from './tag.ts';
import { describeState, pollUntil, retryUntil, StepFailure } from './wait.ts';

export interface CleanupOptions {
  provider: Provider;
  http: HttpLog;
  pollMs: number;
  now: () => number;
  /** how long the clean-up may take from its first call, ms */
  cleanupMs: number;
}

/**
 * The selftest's clean-up: destroy, wait for gone, sweep selftest-tagged instances. Nothing
 * stops it but its own deadline (the user's Ctrl-C ends the checks, not this), and a failed
 * call is tried again until then.
 */
export class Cleanup {
  readonly #o: CleanupOptions;
  #deadline: number | undefined;
  /** selftest instances still listed after the sweep */
  remaining = 0;

  constructor(options: CleanupOptions) {
    this.#o = options;
  }

  /** The deadline starts with the first clean-up call. */
  get deadline(): number {
    this.#deadline ??= this.#o.now() + this.#o.cleanupMs;
    return this.#deadline;
  }

  #call() {
    return { deadline: this.deadline };
  }

  #retry<T>(call: () => Promise<T>): Promise<T> {
    return retryUntil(call, { until: this.deadline, pollMs: this.#o.pollMs, now: this.#o.now });
  }

  /** Before renting: every selftest instance an interrupted run left. @returns how many were destroyed and their ids */
  async leftovers(): Promise<string[]> {
    // Its own deadline: the release's starts with the release.
    const call = { deadline: this.#o.now() + this.#o.cleanupMs };
    const retry = <T>(fn: () => Promise<T>) =>
      retryUntil(fn, { until: call.deadline, pollMs: this.#o.pollMs, now: this.#o.now });
    const left = selftestInstances(await this.#o.provider.listTagged(call));
    for (const instance of left) await retry(() => this.#o.provider.destroy(instance.id, call));
    return left.map((i) => i.id);
  }

  /** Destroys `id`; fails (after destroying) when the provider answered DELETE with a 5xx on the way. */
  async destroy(id: string): Promise<string> {
    const outcome = await this.#retry(() => this.#o.provider.destroy(id, this.#call()));
    const failed = this.#o.http.answers('DELETE', `/${id}`).filter((e) => e.status >= 500);
    if (failed.length > 0) {
      const said = failed.map((e) => `HTTP ${e.status} "${e.detail}"`).join(', ');
      const end = outcome === 'gone' ? 'found gone (404)' : 'destroyed';
      throw new StepFailure(`the provider answered ${said} to DELETE before the instance was ${end}`);
    }
    return outcome === 'gone' ? 'already gone' : 'destroyed';
  }

  /** Waits until the provider no longer has `id`, destroying it again while it does. */
  async gone(id: string): Promise<string> {
    let last = 'not read yet';
    await pollUntil({
      what: 'the instance to be gone',
      probe: async () => {
        const seen = await this.#o.provider.get(id, this.#call());
        last = describeState(seen);
        if (seen.state.phase === 'gone') return true;
        await this.#o.provider.destroy(id, this.#call());
        return undefined;
      },
      detail: () => `last state: ${last}`,
      until: this.deadline,
      why: 'the clean-up deadline',
      pollMs: this.#o.pollMs,
      now: this.#o.now,
    });
    return 'the provider no longer lists it';
  }

  /** Every selftest instance still listed is destroyed and counted (an unknown create's included); any is a failure. */
  async sweep(): Promise<string> {
    const list = async () => selftestInstances(await this.#o.provider.listTagged(this.#call()));
    const left = await this.#retry(list);
    if (left.length === 0) {
      this.remaining = 0;
      return 'none';
    }
    for (const instance of left) await this.#retry(() => this.#o.provider.destroy(instance.id, this.#call()));
    this.remaining = (await this.#retry(list)).filter((i) => i.state.phase !== 'gone').length;
    const listed = left.map((i) => `${i.id} (${describeState(i)})`).join(', ');
    throw new StepFailure(
      `${left.length} selftest instance(s) were still listed: ${listed}; destroyed; ${this.remaining} remain`,
    );
  }
}
