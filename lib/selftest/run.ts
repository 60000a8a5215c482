import { isAnexError } from '../errors.ts';
import { select } from '../filter/select.ts';
import type { Offer } from '../offers/offer.ts';
import type { Instance, InstanceTag, Provider } from '../providers/provider.ts';
import { planBudget, spendUsd } from './budget.ts';
import { Cleanup } from './cleanup.ts';
import { newNonce, SELFTEST_IMAGE, selftestLaunch, selftestRequirements } from './launch.ts';
import { DESTROY_RESERVE, RentalWindow, type SelftestRunOptions } from './rental.ts';
import {
  type PlannedRental,
  REPORT_SCHEMA,
  type SelftestReport,
  type SelftestResult,
  type StepName,
  type StepResult,
} from './report.ts';
import { StepLog } from './steps.ts';
import { newSelftestTag, tagText } from './tag.ts';
import { describeState, StepFailure } from './wait.ts';

export interface SelftestOptions extends SelftestRunOptions<PlannedRental> {
  /** the adapter, built with the selftest's cluster id (tag.ts) and `http.fetch` */
  provider: Provider;
}

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
  readonly #steps: StepLog;
  readonly #window: RentalWindow;
  readonly #cleanup: Cleanup;
  readonly #pollMs: number;
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
  #cleanedBefore = 0;

  constructor(options: SelftestOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#pollMs = options.pollMs ?? 2000;
    this.#steps = new StepLog(this.#now, options.onStep);
    this.#window = new RentalWindow({
      now: this.#now,
      pollMs: this.#pollMs,
      steps: this.#steps,
      signal: options.signal,
    });
    this.#cleanup = new Cleanup({
      provider: options.provider,
      http: options.http,
      pollMs: this.#pollMs,
      now: this.#now,
      cleanupMs: options.cleanupMs ?? 180_000,
    });
  }

  async execute(): Promise<SelftestReport> {
    if (await this.#acquire()) await this.#check();
    if (this.#createSent) await this.#release();
    return this.#report();
  }

  /** leftovers, plan, confirm, create: false when nothing was (or may have been) rented. */
  async #acquire(): Promise<boolean> {
    if (!(await this.#window.step('leftovers', () => this.#cleanLeftovers()))) return false;
    if (!(await this.#window.step('plan', () => this.#makePlan()))) return false;
    const plan = this.#plan as PlannedRental;
    this.#o.onPlan?.(plan);
    if (!(await this.#o.confirm(plan))) {
      this.#result = 'declined';
      return false;
    }
    if (this.#window.interrupted()) return false;
    if (await this.#window.step('create', () => this.#create())) return true;
    // The answer was lost, not the create (unknown outcome): the tag finds it — the adoption
    // path the reconciler takes — and the clean-up destroys it by id.
    if (this.#unknownOutcome) await this.#window.step('visible-by-tag', () => this.#visible());
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
      if (!(await this.#window.step(name, body))) return;
    }
  }

  async #release(): Promise<void> {
    if (this.#instanceId === undefined) {
      this.#steps.skip('destroy', 'no instance id: the create was refused or never answered');
      this.#steps.skip('gone', 'nothing to wait for');
    } else {
      const id = this.#instanceId;
      await this.#steps.run('destroy', () => this.#cleanup.destroy(id));
      if (await this.#steps.run('gone', () => this.#cleanup.gone(id))) this.#goneAt = this.#now();
    }
    await this.#steps.run('no-leftovers', () => this.#cleanup.sweep());
    this.#goneAt ??= this.#now();
  }

  async #cleanLeftovers(): Promise<string> {
    const ids = await this.#cleanup.leftovers();
    this.#cleanedBefore = ids.length;
    return ids.length === 0
      ? 'none'
      : `destroyed ${ids.length} left by an interrupted run: ${ids.join(', ')}`;
  }

  async #makePlan(): Promise<string> {
    const requirements = selftestRequirements(this.#o.providerName);
    const offers = await this.#o.provider.listOffers(requirements, {
      deadline: this.#now() + 120_000,
      ...this.#window.signal(),
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
    this.#window.deadline = this.#rentedAt + limit * (1 - DESTROY_RESERVE);
  }

  async #visible(): Promise<string> {
    const tag = tagText(this.#tag as InstanceTag);
    const found = await this.#window.poll('the instance in the tagged list', async () => {
      const mine = (await this.#o.provider.listTagged(this.#window.call())).filter(
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
    const instance = await this.#window.poll(
      'the instance to run',
      async () => {
        const seen = await this.#o.provider.get(this.#instanceId as string, this.#window.call());
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
    return this.#window.marker(
      this.#o.provider,
      this.#o.providerName,
      this.#instanceId as string,
      this.#nonce,
      (lines) => {
        this.#logLines = lines;
      },
    );
  }

  async #billedPrice(): Promise<string> {
    const instance = await this.#o.provider.get(this.#instanceId as string, this.#window.call());
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

  #report(): SelftestReport {
    const steps = this.#steps.all();
    const price = this.#billed ?? this.#plan?.pricePerHour ?? 0;
    const rentedMs = this.#rentedAt === undefined ? 0 : (this.#goneAt ?? this.#now()) - this.#rentedAt;
    return {
      schema: REPORT_SCHEMA,
      provider: this.#o.providerName,
      mode: 'marker',
      result: this.#verdict(steps),
      startedAt: new Date(this.#startedAt).toISOString(),
      finishedAt: new Date(this.#now()).toISOString(),
      budgetUsd: this.#o.budgetUsd,
      plan: this.#plan ?? null,
      stack: null,
      instanceId: this.#instanceId ?? null,
      tag: this.#tag === undefined ? null : tagText(this.#tag),
      steps,
      leftovers: { cleanedBefore: this.#cleanedBefore, remaining: this.#cleanup.remaining },
      spentUsd: spendUsd(price, rentedMs),
      logs: this.#o.keepLogs === true ? this.#logLines : null,
    };
  }

  #verdict(steps: readonly StepResult[]): SelftestResult {
    if (this.#window.interrupted()) return 'interrupted';
    if (this.#result !== undefined) return this.#result;
    return steps.every((s) => s.status === 'ok') ? 'pass' : 'fail';
  }
}
