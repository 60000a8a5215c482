import type { V1Pod } from '@kubernetes/client-node';
import { formatTag, type Instance, type Provider } from '../providers/provider.ts';
import { PROVISIONED } from '../reconcile/status.ts';
import { probeAgentEndpoint } from './agent-endpoint.ts';
import { PodRefused, type SelftestPods, uidOf } from './agent-kube.ts';
import { newSelftestPodName, SELFTEST_POD_SELECTOR, selftestPodManifest } from './agent-pod.ts';
import { planBudget, roundUsd, spendUsd } from './budget.ts';
import { Cleanup } from './cleanup.ts';
import { newNonce, SELFTEST_IMAGE } from './launch.ts';
import { DESTROY_RESERVE, RentalWindow, type SelftestRunOptions } from './rental.ts';
import {
  AGENT_STEP_NAMES,
  REPORT_SCHEMA,
  type SelftestReport,
  type SelftestResult,
  type StackRental,
  type StepName,
  type StepResult,
} from './report.ts';
import { StepLog } from './steps.ts';
import { describeState, pollUntil, retryUntil, StepFailure } from './wait.ts';

export interface AgentSelftestOptions extends SelftestRunOptions<StackRental> {
  /**
   * The adapter built without a cluster id (its `listTagged` returns every anex-tagged
   * instance: the stack's, found by the pod's UID, and the selftest's) and with `http.fetch`.
   */
  provider: Provider;
  /** the stack's cluster, where the pod is created */
  pods: SelftestPods;
  namespace: string;
  /** the stack's agent endpoint (checked by agent-input.ts) */
  agentUrl: string;
  /** for the endpoint probe (tests) @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

/**
 * The reasons a stack holds a pod without renting, for good: the selftest fails at once,
 * quoting the pod's condition, instead of waiting out its limit (lib/reconcile/spend-limits.ts,
 * plan.ts).
 */
const HELD_REASONS: ReadonlySet<string> = new Set([
  'NamespaceNotEnabled',
  'SpendLimit',
  'GpuLimitExceeded',
  'InvalidAnnotations',
  'DaemonSetPodNotRun',
]);

/**
 * `anex selftest --agent-url` (ADR 0018): a deployed stack rents a throw-away pod through its
 * real path — admission, reconciler, launch stub, Go agent bootstrapping at the agent
 * endpoint, status reports — and the selftest checks each step with the provider's own
 * list, log and price, then deletes the pod and checks that the stack destroyed the machine.
 * Never throws for a provider's or the cluster's failure: every outcome is in the report.
 *
 * Guarantees: nothing is created before the endpoint answered; the pod's price-max is the
 * budget over the longest duration and its activeDeadlineSeconds ends it (the stack destroys
 * the machine) even when the selftest is killed; once the pod was sent, deleting it, waiting
 * for the machine to be gone — destroying it directly as the last resort — and the final
 * check run after any failure, a timeout or the user's stop.
 */
export async function runAgentSelftest(options: AgentSelftestOptions): Promise<SelftestReport> {
  return new AgentSelftestRun(options).execute();
}

class AgentSelftestRun {
  readonly #o: AgentSelftestOptions;
  readonly #now: () => number;
  readonly #steps: StepLog;
  readonly #window: RentalWindow;
  readonly #cleanup: Cleanup;
  readonly #pollMs: number;
  readonly #cleanupMs: number;
  readonly #startedAt: number;
  readonly #podName = newSelftestPodName();
  readonly #nonce = newNonce();
  #stack: StackRental | undefined;
  #result: SelftestResult | undefined;
  #podSent = false;
  #podUid: string | undefined;
  #instance: Instance | undefined;
  #createdAt: number | undefined;
  #goneAt: number | undefined;
  #billed: number | undefined;
  #cleanedBefore = 0;
  #remaining = 0;
  #logLines: string[] = [];

  constructor(options: AgentSelftestOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#pollMs = options.pollMs ?? 2000;
    this.#cleanupMs = options.cleanupMs ?? 180_000;
    this.#steps = new StepLog(this.#now, options.onStep, AGENT_STEP_NAMES);
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
      cleanupMs: this.#cleanupMs,
    });
  }

  async execute(): Promise<SelftestReport> {
    if (await this.#acquire()) await this.#check();
    if (this.#podSent) await this.#release();
    return this.#report();
  }

  /** endpoint, leftovers, plan, confirm, create: false when no pod was (or may have been) created. */
  async #acquire(): Promise<boolean> {
    if (!(await this.#window.step('endpoint', () => this.#endpoint()))) return false;
    if (!(await this.#window.step('leftovers', () => this.#leftovers()))) return false;
    if (!(await this.#window.step('plan', async () => this.#plan()))) return false;
    const stack = this.#stack as StackRental;
    this.#o.onPlan?.(stack);
    if (!(await this.#o.confirm(stack))) {
      this.#result = 'declined';
      return false;
    }
    if (this.#window.interrupted()) return false;
    return this.#window.step('create', () => this.#create());
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
    await this.#steps.run('destroy', () => this.#deletePod());
    if (await this.#steps.run('gone', () => this.#gone())) this.#goneAt = this.#now();
    await this.#steps.run('no-leftovers', () => this.#nothingLeft());
    this.#goneAt ??= this.#now();
  }

  #endpoint(): Promise<string> {
    return probeAgentEndpoint(this.#o.agentUrl, {
      ...(this.#o.fetch === undefined ? {} : { fetch: this.#o.fetch }),
      signal: this.#o.signal,
    });
  }

  /**
   * A killed run's pods (deleted: the stack destroys their machines; removed outright if the
   * stack does not finalize them in time, and their machines destroyed directly) and the
   * marker mode's selftest instances.
   */
  async #leftovers(): Promise<string> {
    const { namespace, pods } = this.#o;
    const until = this.#now() + this.#cleanupMs;
    const retry = <T>(call: () => Promise<T>) =>
      retryUntil(call, { until, pollMs: this.#pollMs, now: this.#now });
    const left = await retry(() => pods.list(namespace, SELFTEST_POD_SELECTOR));
    const uids = new Set(left.map(uidOf));
    for (const pod of left) await retry(() => pods.delete(namespace, pod.metadata?.name as string));
    const said: string[] = [];
    if (left.length > 0) {
      const names = left.map((p) => p.metadata?.name as string);
      const vanished = await this.#podsVanish(names, until - this.#cleanupMs / 2);
      said.push(`deleted ${left.length} selftest pod(s) a killed run left: ${names.join(', ')}`);
      if (!vanished) {
        for (const name of names) await retry(() => pods.delete(namespace, name, { gracePeriodSeconds: 0 }));
        said.push('the stack did not finalize them in time: removed outright');
      }
    }
    const machines = (await retry(() => this.#o.provider.listTagged({ deadline: until }))).filter(
      (i) => i.tag !== undefined && uids.has(i.tag.podUid) && i.state.phase !== 'gone',
    );
    for (const instance of machines)
      await retry(() => this.#o.provider.destroy(instance.id, { deadline: until }));
    if (machines.length > 0)
      said.push(`destroyed their instance(s) the stack had not: ${machines.map((i) => i.id).join(', ')}`);
    const instances = await this.#cleanup.leftovers();
    if (instances.length > 0)
      said.push(`destroyed ${instances.length} marker-mode selftest instance(s): ${instances.join(', ')}`);
    this.#cleanedBefore = left.length + instances.length;
    return said.length === 0 ? 'none' : said.join('; ');
  }

  /** The ceiling, worst case and deadline: the stack rents at most at the budget's $/h. */
  #plan(): string {
    const budget = planBudget({
      // The stack picks the offer; the ceiling is what the budget allows over the duration.
      pricePerHour: 0,
      budgetUsd: this.#o.budgetUsd,
      maxDurationMs: this.#o.maxDurationMs,
    });
    const ceiling = budget.ceilingPerHour;
    if (ceiling <= 0)
      throw new StepFailure(
        `--budget $${this.#o.budgetUsd.toFixed(2)} over ${this.#o.maxDurationMs / 60_000} min allows no price: raise --budget`,
      );
    this.#stack = {
      agentUrl: this.#o.agentUrl,
      namespace: this.#o.namespace,
      pod: this.#podName,
      podUid: null,
      clusterId: null,
      ceilingPerHour: ceiling,
      worstCaseUsd: roundUsd(ceiling * (this.#o.maxDurationMs / 3_600_000)),
      maxSeconds: Math.round(this.#o.maxDurationMs / 1000),
      // The checks' share: past it the stack ends the pod, and its destroy fits in the rest.
      activeDeadlineSeconds: Math.max(1, Math.floor((this.#o.maxDurationMs * (1 - DESTROY_RESERVE)) / 1000)),
      image: this.#o.image ?? SELFTEST_IMAGE,
    };
    return `anex.sh/price-max $${ceiling.toFixed(4)}/h, worst case $${this.#stack.worstCaseUsd.toFixed(4)}, activeDeadlineSeconds ${this.#stack.activeDeadlineSeconds}`;
  }

  async #create(): Promise<string> {
    const stack = this.#stack as StackRental;
    const manifest = selftestPodManifest({
      name: this.#podName,
      provider: this.#o.providerName,
      nonce: this.#nonce,
      ceilingPerHour: stack.ceilingPerHour,
      activeDeadlineSeconds: stack.activeDeadlineSeconds,
      image: stack.image,
    });
    this.#podSent = true;
    this.#createdAt = this.#now();
    this.#window.deadline = this.#createdAt + this.#o.maxDurationMs * (1 - DESTROY_RESERVE);
    let created: V1Pod;
    try {
      created = await this.#o.pods.create(this.#o.namespace, manifest);
    } catch (error) {
      // Refused: nothing exists. Else the answer may be lost: the release looks the pod up by name.
      if (error instanceof PodRefused) this.#podSent = false;
      throw error;
    }
    this.#podUid = uidOf(created);
    stack.podUid = this.#podUid;
    return `pod ${this.#o.namespace}/${this.#podName} (uid ${this.#podUid}) on node-provider=${this.#o.providerName}`;
  }

  /** The stack rented: an instance tagged with the pod's UID is listed (the adoption path's lookup). */
  async #visible(): Promise<string> {
    let last = 'not read yet';
    const found = await this.#window.poll(
      'the stack to rent an instance for the pod',
      async () => {
        const pod = await this.#readPod();
        last = podSituation(pod);
        const mine = await this.#listMine();
        return mine[0];
      },
      () => `the pod: ${last}`,
    );
    this.#noteInstance(found);
    return `instance ${found.id} listed with tag ${formatTag(found.tag as NonNullable<Instance['tag']>)} (${describeState(found)})`;
  }

  /** The agent bootstrapped and reported the start: the stack wrote the container running with its startedAt. */
  async #running(): Promise<string> {
    let last = 'not read yet';
    const startedAt = await this.#window.poll(
      'the agent to report the container started',
      async () => {
        const pod = await this.#readPod();
        last = podSituation(pod);
        const state = pod.status?.containerStatuses?.[0]?.state;
        if (state?.terminated !== undefined) throw new StepFailure(`the container ended instead: ${last}`);
        const at = state?.running?.startedAt;
        return at === undefined ? undefined : new Date(at).toISOString();
      },
      () => `the pod: ${last}`,
    );
    return `container running since ${startedAt} (reported by the agent) on instance ${this.#instance?.id}`;
  }

  /** The Go agent hands the container's stdout to its own, which the provider's log API serves. */
  async #marker(): Promise<string> {
    return this.#window.marker(
      this.#o.provider,
      this.#o.providerName,
      (this.#instance as Instance).id,
      this.#nonce,
      (lines) => {
        this.#logLines = lines;
      },
    );
  }

  /** What the provider bills, against the pod's price-max (no offer in this mode: the stack chose). */
  async #billedPrice(): Promise<string> {
    const instance = await this.#o.provider.get((this.#instance as Instance).id, this.#window.call());
    this.#noteInstance(instance);
    const billed = instance.pricePerHour;
    if (billed === undefined) throw new StepFailure('the provider reports no price for the instance');
    const ceiling = (this.#stack as StackRental).ceilingPerHour;
    // A provider may round to the cent; more than that is a rental above the pod's price-max.
    if (billed > ceiling * 1.01 + 0.005)
      throw new StepFailure(
        `billed $${billed.toFixed(4)}/h, above the pod's anex.sh/price-max $${ceiling.toFixed(4)}/h`,
      );
    return `billed $${billed.toFixed(4)}/h, price-max $${ceiling.toFixed(4)}/h`;
  }

  /** Deletes the pod (graceful: the agent stops the container, the stack destroys the machine). */
  async #deletePod(): Promise<string> {
    const until = this.#now() + this.#cleanupMs;
    const retry = <T>(call: () => Promise<T>) =>
      retryUntil(call, { until, pollMs: this.#pollMs, now: this.#now });
    if (this.#podUid === undefined) {
      // The create's answer was lost: the pod may exist under its name.
      const pod = await retry(() => this.#o.pods.get(this.#o.namespace, this.#podName));
      if (pod === undefined) return 'the pod was never created';
      this.#podUid = uidOf(pod);
      if (this.#stack !== undefined) this.#stack.podUid = this.#podUid;
    }
    const outcome = await retry(() => this.#o.pods.delete(this.#o.namespace, this.#podName));
    return outcome === 'gone'
      ? 'the pod was already gone'
      : `pod ${this.#o.namespace}/${this.#podName} deleted`;
  }

  /**
   * The stack destroys the machine and finalizes the pod, within the destroy's share of the
   * longest duration. Past it the selftest destroys the machine itself (and removes the pod)
   * and the step fails: the stack did not clean up.
   */
  async #gone(): Promise<string> {
    const uid = this.#podUid;
    if (uid === undefined) return 'no pod, no instance';
    const until = this.#now() + Math.max(this.#o.maxDurationMs * DESTROY_RESERVE, 30_000);
    let instances: Instance[] = [];
    let podLeft = true;
    try {
      await pollUntil({
        what: 'the stack to destroy the instance and finalize the pod',
        probe: async () => {
          instances = await this.#listMine({ deadline: until });
          this.#seenLate(instances);
          podLeft = (await this.#o.pods.get(this.#o.namespace, this.#podName)) !== undefined;
          return instances.length === 0 && !podLeft ? true : undefined;
        },
        until,
        why: "the destroy's share of --max-minutes",
        pollMs: this.#pollMs,
        now: this.#now,
      });
    } catch (error) {
      if (!(error instanceof StepFailure)) throw error;
      const done: string[] = [];
      for (const instance of instances) {
        await this.#cleanup.destroy(instance.id).catch(() => undefined);
        done.push(`destroyed instance ${instance.id} itself`);
      }
      if (podLeft) {
        await this.#o.pods
          .delete(this.#o.namespace, this.#podName, { gracePeriodSeconds: 0 })
          .catch(() => undefined);
        done.push('removed the pod outright');
      }
      const what = [
        ...(instances.length > 0
          ? [`its instance still listed (${instances.map(describeState).join(', ')})`]
          : []),
        ...(podLeft ? ['the pod not finalized'] : []),
      ];
      throw new StepFailure(
        `the stack did not clean up: ${what.join(' and ')} — ${error.message}; ${done.join(', ')}`,
      );
    }
    return this.#instance === undefined
      ? 'no instance was listed for the pod; the pod is gone'
      : `instance ${this.#instance.id} destroyed by the stack; the pod finalized`;
  }

  /** No instance for the pod, no selftest instance, no selftest pod: anything found is removed and fails the step. */
  async #nothingLeft(): Promise<string> {
    const problems: string[] = [];
    const until = this.#now() + this.#cleanupMs;
    const retry = <T>(call: () => Promise<T>) =>
      retryUntil(call, { until, pollMs: this.#pollMs, now: this.#now });
    const mine = this.#podUid === undefined ? [] : await retry(() => this.#listMine({ deadline: until }));
    this.#seenLate(mine);
    for (const instance of mine)
      await retry(() => this.#o.provider.destroy(instance.id, { deadline: until }));
    if (mine.length > 0)
      problems.push(`instance(s) for the pod still listed, destroyed: ${mine.map((i) => i.id).join(', ')}`);
    const pods = await retry(() => this.#o.pods.list(this.#o.namespace, SELFTEST_POD_SELECTOR));
    for (const pod of pods)
      await retry(() =>
        this.#o.pods.delete(this.#o.namespace, pod.metadata?.name as string, { gracePeriodSeconds: 0 }),
      );
    if (pods.length > 0)
      problems.push(`selftest pod(s) still there, removed: ${pods.map((p) => p.metadata?.name).join(', ')}`);
    try {
      await this.#cleanup.sweep();
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    this.#remaining =
      this.#cleanup.remaining +
      (this.#podUid === undefined ? 0 : (await retry(() => this.#listMine({ deadline: until }))).length);
    if (problems.length > 0) throw new StepFailure(problems.join('; '));
    return 'none';
  }

  /** Instances tagged for this run's pod (any cluster id: the stack's is read from the tag), not gone. */
  async #listMine(call: { deadline: number } = this.#window.call()): Promise<Instance[]> {
    const uid = this.#podUid;
    const all = await this.#o.provider.listTagged(call);
    return all.filter((i) => i.tag?.podUid === uid && i.state.phase !== 'gone');
  }

  /** The pod as it is; a held pod, a failed pod or one deleted under the selftest ends the wait. */
  async #readPod(): Promise<V1Pod> {
    const pod = await this.#o.pods.get(this.#o.namespace, this.#podName);
    if (pod === undefined) throw new StepFailure('the pod was deleted by someone else');
    const held = heldCondition(pod);
    if (held !== undefined)
      throw new StepFailure(`the stack holds the pod: ${held}; nothing was rented for it`);
    if (pod.status?.phase === 'Failed') throw new StepFailure(`the pod failed: ${podSituation(pod)}`);
    return pod;
  }

  #noteInstance(instance: Instance): void {
    this.#instance = instance;
    if (instance.tag !== undefined && this.#stack !== undefined)
      this.#stack.clusterId = instance.tag.clusterId;
    if (instance.pricePerHour === undefined) return;
    this.#billed = instance.pricePerHour;
    // A billed price above the ceiling shortens the limit: the budget holds at the real price.
    const limit = planBudget({
      pricePerHour: instance.pricePerHour,
      budgetUsd: this.#o.budgetUsd,
      maxDurationMs: this.#o.maxDurationMs,
    }).timeLimitMs;
    this.#window.deadline = Math.min(
      this.#window.deadline,
      (this.#createdAt as number) + limit * (1 - DESTROY_RESERVE),
    );
  }

  /**
   * An instance first seen while cleaning up (the stop came before the rented step saw it):
   * the report names it and counts what it cost.
   */
  #seenLate(instances: readonly Instance[]): void {
    const first = instances[0];
    if (this.#instance !== undefined || first === undefined) return;
    this.#instance = first;
    if (first.pricePerHour !== undefined) this.#billed = first.pricePerHour;
    if (first.tag !== undefined && this.#stack !== undefined) this.#stack.clusterId = first.tag.clusterId;
  }

  #report(): SelftestReport {
    const steps = this.#steps.all();
    // Never rented: nothing spent. Rented at an unread price: the ceiling, the most it can be.
    const price = this.#instance === undefined ? 0 : (this.#billed ?? this.#stack?.ceilingPerHour ?? 0);
    const rentedMs = this.#createdAt === undefined ? 0 : (this.#goneAt ?? this.#now()) - this.#createdAt;
    const tag = this.#instance?.tag;
    return {
      schema: REPORT_SCHEMA,
      provider: this.#o.providerName,
      mode: 'agent',
      result: this.#verdict(steps),
      startedAt: new Date(this.#startedAt).toISOString(),
      finishedAt: new Date(this.#now()).toISOString(),
      budgetUsd: this.#o.budgetUsd,
      plan: null,
      stack: this.#stack ?? null,
      instanceId: this.#instance?.id ?? null,
      tag: tag === undefined ? null : formatTag(tag),
      steps,
      leftovers: { cleanedBefore: this.#cleanedBefore, remaining: this.#remaining },
      spentUsd: spendUsd(price, rentedMs),
      logs: this.#o.keepLogs === true ? this.#logLines : null,
    };
  }

  #verdict(steps: readonly StepResult[]): SelftestResult {
    if (this.#window.interrupted()) return 'interrupted';
    if (this.#result !== undefined) return this.#result;
    return steps.every((s) => s.status === 'ok') ? 'pass' : 'fail';
  }

  /** Waits (bounded) for pods to leave the API server. @returns false when some are still there at `until` */
  async #podsVanish(names: readonly string[], until: number): Promise<boolean> {
    try {
      await pollUntil({
        what: 'the deleted selftest pods to be finalized',
        probe: async () => {
          const left = await this.#o.pods.list(this.#o.namespace, SELFTEST_POD_SELECTOR);
          return left.some((p) => names.includes(p.metadata?.name as string)) ? undefined : true;
        },
        until,
        why: 'the clean-up deadline',
        pollMs: this.#pollMs,
        now: this.#now,
      });
      return true;
    } catch (error) {
      if (error instanceof StepFailure) return false;
      throw error;
    }
  }
}

/** The stack's hold on the pod, quoted from its Provisioned condition; undefined when not held. */
export function heldCondition(pod: V1Pod): string | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === PROVISIONED);
  if (condition?.status !== 'False' || condition.reason === undefined || !HELD_REASONS.has(condition.reason))
    return undefined;
  return `${condition.reason}: ${condition.message ?? ''}`;
}

/** The pod in a few words: phase, the stack's Provisioned condition or the scheduler's, the container's state. */
export function podSituation(pod: V1Pod): string {
  const status = pod.status;
  const parts = [status?.phase ?? 'no phase'];
  if (status?.reason !== undefined)
    parts.push(`${status.reason}${status.message ? `: ${status.message}` : ''}`);
  const provisioned = status?.conditions?.find((c) => c.type === PROVISIONED);
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (provisioned !== undefined)
    parts.push(
      `${provisioned.reason ?? provisioned.status}${provisioned.message ? `: ${provisioned.message}` : ''}`,
    );
  else if (scheduled?.status === 'False')
    parts.push(`not scheduled: ${scheduled.reason ?? ''} ${scheduled.message ?? ''}`.trim());
  else if (scheduled === undefined) parts.push('not scheduled yet');
  const state = status?.containerStatuses?.[0]?.state;
  if (state?.waiting !== undefined) parts.push(`waiting ${state.waiting.reason ?? ''}`.trim());
  if (state?.terminated !== undefined)
    parts.push(`terminated ${state.terminated.reason ?? ''} (exit ${state.terminated.exitCode})`);
  return parts.join('; ');
}
