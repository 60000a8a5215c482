import { setTimeout as sleep } from 'node:timers/promises';
import { isAnexError } from '../errors.ts';
import { select } from '../filter/select.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Instance, InstanceTag, Provider } from '../providers/provider.ts';
import { markerLine } from '../tunnel/agent/stub.ts';
import { planBudget, spendUsd } from './budget.ts';
import type { HttpLog } from './http-log.ts';
import { newNonce, SELFTEST_IMAGE, selftestLaunch, selftestRequirements } from './launch.ts';
import {
  type PlannedRental,
  REPORT_SCHEMA,
  type SelftestReport,
  type SelftestResult,
  STEP_NAMES,
  type StepName,
  type StepResult,
} from './report.ts';
import { newSelftestTag, selftestInstances, tagText } from './tag.ts';

export interface SelftestOptions {
  providerName: ProviderName;
  /** the adapter, built with the selftest's cluster id (tag.ts) and `http.fetch` */
  provider: Provider;
  http: HttpLog;
  budgetUsd: number;
  /** the longest the run keeps an instance, every wait and the destroy included, ms */
  maxDurationMs: number;
  /** asked once the plan is known (the CLI: a prompt, or `--yes`) */
  confirm: (plan: PlannedRental) => Promise<boolean>;
  /** each step as it ends, for live output */
  onStep?: (step: StepResult) => void;
  onPlan?: (plan: PlannedRental) => void;
  /** the user's stop (Ctrl-C): waits end, the clean-up still runs */
  signal?: AbortSignal;
  /** @default 2000 */
  pollMs?: number;
  /** how long the clean-up (destroy, gone, leftovers) may take, ms @default 180000 */
  cleanupMs?: number;
  image?: string;
  /** keep the log lines the marker step read in the report @default false */
  keepLogs?: boolean;
  now?: () => number;
}

/** A step that did not hold; its message is what the user reads. */
class StepFailure extends Error {}

/** How much of the longest duration is kept back for the destroy. */
const DESTROY_RESERVE = 0.2;

/**
 * `anex selftest` (ADR 0018): rents one cheap machine with the product's adapter, launch
 * builder and tag, checks each step of the lifecycle against the real provider, and destroys
 * it whatever happens. Never throws for a provider's failure: every outcome is in the report.
 *
 * Guarantees: nothing is rented when the worst case exceeds the budget; once a create was
 * sent, destroy, gone and the leftover sweep run even after a failure, a timeout or the user's
 * stop (they ignore `signal`); waits stop at the wall-clock limit computed from the price.
 */
export async function runSelftest(options: SelftestOptions): Promise<SelftestReport> {
  return new SelftestRun(options).execute();
}

class SelftestRun {
  readonly #o: SelftestOptions;
  readonly #now: () => number;
  readonly #steps = new Map<StepName, StepResult>();
  readonly #startedAt: number;
  #result: SelftestResult | undefined;
  #plan: PlannedRental | undefined;
  #candidates: Offer[] = [];
  #tag: InstanceTag | undefined;
  #createSent = false;
  #instanceId: string | undefined;
  #rentedAt: number | undefined;
  #goneAt: number | undefined;
  #billed: number | undefined;
  #rentalDeadline = 0;
  #cleanedBefore = 0;
  #remaining = 0;

  constructor(options: SelftestOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  async execute(): Promise<SelftestReport> {
    if (await this.#acquire()) await this.#check();
    if (this.#createSent) await this.#release();
    return this.#report();
  }

  /** leftovers, plan, confirm, create: false when nothing was (or may have been) rented. */
  async #acquire(): Promise<boolean> {
    if (!(await this.#step('leftovers', () => this.#cleanLeftovers()))) return false;
    if (!(await this.#step('plan', () => this.#makePlan()))) return false;
    const plan = this.#plan as PlannedRental;
    this.#o.onPlan?.(plan);
    if (!(await this.#o.confirm(plan))) {
      this.#result = 'declined';
      return false;
    }
    if (this.#interrupted()) return false;
    if (await this.#step('create', () => this.#create())) return true;
    // The answer was lost, not the create (unknown outcome): the tag finds it — the adoption
    // path the reconciler takes — and the clean-up destroys it by id.
    if (this.#unknownOutcome) await this.#step('visible-by-tag', () => this.#visible());
    return false;
  }

  async #check(): Promise<void> {
    const steps: [StepName, () => Promise<string>][] = [
      ['visible-by-tag', () => this.#visible()],
      ['running', () => this.#running()],
      ['marker', () => this.#marker()],
      ['billed-price', () => this.#billedPrice()],
    ];
    for (const [name, body] of steps) {
      if (!(await this.#step(name, body))) return;
    }
  }

  async #release(): Promise<void> {
    if (this.#instanceId === undefined) {
      this.#skip('destroy', 'no instance id: the create was refused or never answered');
      this.#skip('gone', 'nothing to wait for');
    } else {
      await this.#step('destroy', () => this.#destroy(), { cleanup: true });
      await this.#step('gone', () => this.#gone(), { cleanup: true });
    }
    await this.#step('no-leftovers', () => this.#noLeftovers(), { cleanup: true });
  }

  async #cleanLeftovers(): Promise<string> {
    const deadline = this.#now() + (this.#o.cleanupMs ?? 180_000);
    const left = selftestInstances(await this.#o.provider.listTagged({ deadline }));
    for (const instance of left) await this.#o.provider.destroy(instance.id, { deadline });
    this.#cleanedBefore = left.length;
    return left.length === 0
      ? 'none'
      : `destroyed ${left.length} left by an interrupted run: ${left.map((i) => i.id).join(', ')}`;
  }

  async #makePlan(): Promise<string> {
    const requirements = selftestRequirements(this.#o.providerName);
    const offers = await this.#o.provider.listOffers(requirements, {
      deadline: this.#now() + 120_000,
      ...this.#signal(),
    });
    const candidates = select(requirements, offers, [], this.#now());
    const cheapest = candidates[0];
    if (cheapest === undefined)
      throw new StepFailure(`no 1-GPU offer on ${this.#o.providerName} right now (${offers.length} listed)`);
    const budget = planBudget({
      pricePerHour: cheapest.pricePerHour,
      budgetUsd: this.#o.budgetUsd,
      maxDurationMs: this.#o.maxDurationMs,
    });
    this.#plan = {
      offerId: cheapest.offerId,
      gpuName: cheapest.gpuName,
      gpuCount: cheapest.gpuCount,
      pricePerHour: cheapest.pricePerHour,
      worstCaseUsd: budget.worstCaseUsd,
      ceilingPerHour: budget.ceilingPerHour,
      maxSeconds: Math.round(this.#o.maxDurationMs / 1000),
      image: this.#o.image ?? SELFTEST_IMAGE,
      location: cheapest.location ?? null,
    };
    if (!budget.withinBudget) {
      this.#result = 'refused';
      throw new StepFailure(
        `worst case $${budget.worstCaseUsd.toFixed(4)} ($${cheapest.pricePerHour.toFixed(4)}/h, the cheapest offer, × ` +
          `${Math.round(this.#o.maxDurationMs / 60_000)} min) exceeds --budget $${this.#o.budgetUsd.toFixed(2)}: ` +
          `nothing rented; raise --budget to ${budget.worstCaseUsd.toFixed(2)} or lower --max-minutes`,
      );
    }
    this.#candidates = candidates.filter((o) => o.pricePerHour <= budget.ceilingPerHour).slice(0, 3);
    return `${cheapest.gpuName}, $${cheapest.pricePerHour.toFixed(4)}/h, worst case $${budget.worstCaseUsd.toFixed(4)}`;
  }

  /** Sends the create once per candidate (the adapter never resends); the first one created wins. */
  async #create(): Promise<string> {
    const requirements = selftestRequirements(this.#o.providerName);
    this.#tag = newSelftestTag();
    const nonce = newNonce();
    this.#nonce = nonce;
    const launch = selftestLaunch({
      tag: this.#tag,
      nonce,
      requirements,
      ...(this.#o.image === undefined ? {} : { image: this.#o.image }),
    });
    const refusals: string[] = [];
    for (const offer of this.#candidates) {
      this.#createSent = true;
      this.#startClock(offer.pricePerHour);
      const result = await this.#o.provider
        .create(offer, launch, this.#tag, { deadline: this.#now() + 150_000 })
        .catch((error: unknown) => {
          this.#unknownOutcome = isAnexError(error) && error.kind === 'unknown-outcome';
          throw error;
        });
      if (result.outcome === 'created') {
        this.#instanceId = result.instance.id;
        return `instance ${result.instance.id} (${offer.gpuName}, offer ${offer.offerId}), tag ${tagText(this.#tag)}`;
      }
      refusals.push(`offer ${offer.offerId}: ${result.outcome}: ${result.reason}`);
    }
    throw new StepFailure(`the provider refused every candidate: ${refusals.join('; ')}`);
  }

  #nonce = '';
  /** the create was sent and its answer lost: an instance may exist under the tag */
  #unknownOutcome = false;
  #logLines: string[] = [];

  /** The rental's wall-clock limit, from the price: the waits stop there, the destroy still fits. */
  #startClock(pricePerHour: number): void {
    this.#rentedAt ??= this.#now();
    const limit = planBudget({
      pricePerHour,
      budgetUsd: this.#o.budgetUsd,
      maxDurationMs: this.#o.maxDurationMs,
    }).timeLimitMs;
    this.#rentalDeadline = this.#rentedAt + limit * (1 - DESTROY_RESERVE);
  }

  async #visible(): Promise<string> {
    const tag = tagText(this.#tag as InstanceTag);
    const found = await this.#poll('the instance in the tagged list', async () => {
      const mine = (await this.#o.provider.listTagged(this.#call())).filter(
        (i) => i.tag !== undefined && tagText(i.tag) === tag,
      );
      return mine.find((i) => this.#instanceId === undefined || i.id === this.#instanceId);
    });
    if (this.#instanceId === undefined) {
      this.#instanceId = found.id;
      return `adopted ${found.id} by its tag ${tag} (the create's answer was lost)`;
    }
    return `listed as ${found.id} with tag ${tag}`;
  }

  async #running(): Promise<string> {
    let last = 'not read yet';
    const instance = await this.#poll(
      'the instance to run',
      async () => {
        const seen = await this.#o.provider.get(this.#instanceId as string, this.#call());
        last = describeState(seen);
        const phase = seen.state.phase;
        if (phase === 'failed' || phase === 'exited' || phase === 'gone')
          throw new StepFailure(`the instance ended instead: ${last}`);
        return phase === 'running' ? seen : undefined;
      },
      () => `last state: ${last}`,
    );
    this.#noteBilled(instance);
    return instance.gpuName === undefined ? 'running' : `running on ${instance.gpuName}`;
  }

  async #marker(): Promise<string> {
    const read = this.#o.provider.logs?.bind(this.#o.provider);
    if (read === undefined) throw new StepFailure(`the ${this.#o.providerName} adapter cannot read logs`);
    const wanted = markerLine(this.#nonce);
    let last: string[] = [];
    let lastError = '';
    await this.#poll(
      'the marker',
      async () => {
        try {
          last = await read(this.#instanceId as string, { tail: 200, ...this.#call() });
          this.#logLines = last.slice(-50);
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

  async #billedPrice(): Promise<string> {
    const instance = await this.#o.provider.get(this.#instanceId as string, this.#call());
    this.#noteBilled(instance);
    const offered = (this.#plan as PlannedRental).pricePerHour;
    const rented = this.#candidates.find((o) => o.offerId === (this.#plan as PlannedRental).offerId);
    const billed = instance.pricePerHour;
    if (billed === undefined) throw new StepFailure('the provider reports no price for the instance');
    const expected = rented?.pricePerHour ?? offered;
    // A provider may round to the cent; more than that is a repriced host or a changed price model.
    if (billed > expected * 1.01 + 0.005)
      throw new StepFailure(`billed $${billed.toFixed(4)}/h, the offer said $${expected.toFixed(4)}/h`);
    return `billed $${billed.toFixed(4)}/h, offer $${expected.toFixed(4)}/h`;
  }

  /** A billed price above the offer shortens the wall-clock limit: the budget holds at the real price. */
  #noteBilled(instance: Instance): void {
    if (instance.pricePerHour === undefined) return;
    this.#billed = instance.pricePerHour;
    this.#startClock(Math.max(instance.pricePerHour, (this.#plan as PlannedRental).pricePerHour));
  }

  async #destroy(): Promise<string> {
    const id = this.#instanceId as string;
    const outcome = await this.#retryCleanup(() => this.#o.provider.destroy(id, this.#cleanupCall()));
    const failed = this.#o.http.answers('DELETE', `/${id}`).filter((e) => e.status >= 500);
    if (failed.length > 0) {
      const said = failed.map((e) => `HTTP ${e.status} "${e.detail}"`).join(', ');
      throw new StepFailure(
        `the provider answered ${said} to DELETE before the instance was ${outcome === 'gone' ? 'found gone (404)' : 'destroyed'}`,
      );
    }
    return outcome === 'gone' ? 'already gone' : 'destroyed';
  }

  async #gone(): Promise<string> {
    const id = this.#instanceId as string;
    let last = 'not read yet';
    await this.#poll(
      'the instance to be gone',
      async () => {
        const seen = await this.#o.provider.get(id, this.#cleanupCall());
        last = describeState(seen);
        if (seen.state.phase === 'gone') return true;
        await this.#o.provider.destroy(id, this.#cleanupCall());
        return undefined;
      },
      () => `last state: ${last}`,
      { cleanup: true },
    );
    this.#goneAt = this.#now();
    return 'the provider no longer lists it';
  }

  /** Every selftest instance still listed is destroyed and counted; this run's tag included (an unknown create). */
  async #noLeftovers(): Promise<string> {
    const list = async () => selftestInstances(await this.#o.provider.listTagged(this.#cleanupCall()));
    const left = await this.#retryCleanup(list);
    if (left.length === 0) {
      this.#remaining = 0;
      return 'none';
    }
    for (const instance of left)
      await this.#retryCleanup(() => this.#o.provider.destroy(instance.id, this.#cleanupCall()));
    this.#goneAt ??= this.#now();
    this.#remaining = (await this.#retryCleanup(list)).filter((i) => i.state.phase !== 'gone').length;
    throw new StepFailure(
      `${left.length} selftest instance(s) were still listed: ${left.map((i) => `${i.id} (${describeState(i)})`).join(', ')}; ` +
        `destroyed; ${this.#remaining} remain`,
    );
  }

  /** A clean-up call that failed is tried again until the clean-up deadline: leaking is worse than waiting. */
  async #retryCleanup<T>(call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (this.#now() + this.#pollMs() > this.#cleanupDeadline) throw error;
        await sleep(this.#pollMs());
      }
    }
  }

  #cleanupDeadlineValue: number | undefined;
  get #cleanupDeadline(): number {
    this.#cleanupDeadlineValue ??= this.#now() + (this.#o.cleanupMs ?? 180_000);
    return this.#cleanupDeadlineValue;
  }

  #cleanupCall() {
    return { deadline: this.#cleanupDeadline };
  }

  /** The rental's calls: stopped by the user's signal and the wall-clock limit. */
  #call() {
    return { deadline: this.#rentalDeadline, ...this.#signal() };
  }

  #signal(): { signal?: AbortSignal } {
    return this.#o.signal === undefined ? {} : { signal: this.#o.signal };
  }

  #pollMs(): number {
    return this.#o.pollMs ?? 2000;
  }

  #interrupted(): boolean {
    return this.#o.signal?.aborted === true;
  }

  /**
   * Calls `probe` until it yields a value. Rental waits stop at the wall-clock limit or the
   * user's stop; clean-up waits only at the clean-up deadline.
   */
  async #poll<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    detail: () => string = () => '',
    mode: { cleanup?: boolean } = {},
  ): Promise<T> {
    const started = this.#now();
    const until = mode.cleanup === true ? this.#cleanupDeadline : this.#rentalDeadline;
    let readError = '';
    for (;;) {
      if (mode.cleanup !== true && this.#interrupted()) throw new StepFailure(this.#stopMessage(what));
      const value = await this.#probeOnce(probe, (message) => {
        readError = message;
      });
      if (value !== undefined) return value;
      if (this.#now() + this.#pollMs() > until) {
        const waited = Math.round((this.#now() - started) / 1000);
        const why =
          mode.cleanup === true
            ? 'the clean-up deadline'
            : 'the wall-clock limit set by --budget and --max-minutes';
        const more = [detail(), readError === '' ? '' : `last read failed: ${readError}`].filter(
          (m) => m !== '',
        );
        throw new StepFailure(`waited ${waited} s for ${what} (${why})${more.map((m) => `; ${m}`).join('')}`);
      }
      await sleep(this.#pollMs(), undefined, mode.cleanup === true ? {} : this.#signal()).catch(() => {});
    }
  }

  /**
   * One probe. A read that failed in a way worth repeating (5xx, 429, a pacing slot past the
   * deadline) is "not yet": the wait goes on and the failure is quoted if it times out.
   */
  async #probeOnce<T>(
    probe: () => Promise<T | undefined>,
    failed: (message: string) => void,
  ): Promise<T | undefined> {
    try {
      return await probe();
    } catch (error) {
      if (error instanceof StepFailure || !isAnexError(error) || !error.retryable) throw error;
      failed(error.message);
      return undefined;
    }
  }

  #stopMessage(what: string): string {
    return `interrupted while waiting for ${what}`;
  }

  /** Runs one step, times it and records ok or fail with the words of whoever failed. */
  async #step(
    name: StepName,
    body: () => Promise<string>,
    mode: { cleanup?: boolean } = {},
  ): Promise<boolean> {
    const started = this.#now();
    let status: StepResult['status'] = 'ok';
    let message: string;
    try {
      message = await body();
    } catch (error) {
      status = 'fail';
      message =
        mode.cleanup !== true && this.#interrupted() && !(error instanceof StepFailure)
          ? this.#stopMessage(name)
          : error instanceof Error
            ? error.message
            : String(error);
    }
    const step: StepResult = { name, status, seconds: round1((this.#now() - started) / 1000), message };
    this.#steps.set(name, step);
    this.#o.onStep?.(step);
    return status === 'ok';
  }

  #skip(name: StepName, message: string): void {
    const step: StepResult = { name, status: 'skipped', seconds: null, message };
    this.#steps.set(name, step);
    this.#o.onStep?.(step);
  }

  #report(): SelftestReport {
    const steps = STEP_NAMES.map(
      (name) => this.#steps.get(name) ?? { name, status: 'skipped' as const, seconds: null, message: '' },
    );
    const price = this.#billed ?? this.#plan?.pricePerHour ?? 0;
    const rentedMs = this.#rentedAt === undefined ? 0 : (this.#goneAt ?? this.#now()) - this.#rentedAt;
    return {
      schema: REPORT_SCHEMA,
      provider: this.#o.providerName,
      result: this.#verdict(steps),
      startedAt: new Date(this.#startedAt).toISOString(),
      finishedAt: new Date(this.#now()).toISOString(),
      budgetUsd: this.#o.budgetUsd,
      plan: this.#plan ?? null,
      instanceId: this.#instanceId ?? null,
      tag: this.#tag === undefined ? null : tagText(this.#tag),
      steps,
      leftovers: { cleanedBefore: this.#cleanedBefore, remaining: this.#remaining },
      spentUsd: spendUsd(price, rentedMs),
      logs: this.#o.keepLogs === true ? this.#logLines : null,
    };
  }

  #verdict(steps: readonly StepResult[]): SelftestResult {
    if (this.#interrupted()) return 'interrupted';
    if (this.#result !== undefined) return this.#result;
    return steps.every((s) => s.status === 'ok') ? 'pass' : 'fail';
  }
}

function describeState(instance: Instance): string {
  const s = instance.state;
  if (s.phase === 'failed') return `failed (${s.fault}): ${s.reason}`;
  if (s.phase === 'starting' && s.message) return `starting: ${s.message}`;
  if (s.phase === 'exited') return `exited${s.exitCode === undefined ? '' : ` with code ${s.exitCode}`}`;
  return s.phase;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
