import type { Requirements } from '../../../lib/annotations/requirements.ts';
import { AnexError } from '../../../lib/errors.ts';
import type { Offer, ProviderName } from '../../../lib/offers/offer.ts';
import {
  type CallOptions,
  type CreateResult,
  formatTag,
  type Instance,
  type InstanceState,
  type InstanceTag,
  type LaunchSpec,
  type ListOffersOptions,
  type Provider,
  parseTag,
} from '../../../lib/providers/provider.ts';

/** What the next create call does (a queue; when empty, creates succeed). */
export type CreateKnob =
  | 'created'
  | 'offer-gone'
  | 'capacity'
  /** the instance is created but the answer is lost: throws `unknown-outcome` */
  | 'lost-answer'
  /** nothing is created and the answer is lost: throws `unknown-outcome` */
  | 'lost-request'
  | AnexError;

/** How a machine behaves once rented, applied by {@link FakeProvider.advance}. */
export type MachineBehaviour =
  | 'starts'
  | 'never-starts'
  | { fault: 'host' | 'image' | 'capacity'; reason: string };

export interface CreatedCall {
  offer: Offer;
  launch: LaunchSpec;
  tag: InstanceTag;
}

/**
 * The Provider contract in memory with error knobs and `reset()`, after Karpenter's fake
 * cloud provider: unit tests of lib/reconcile drive the market and the machines through it
 * and read back what was rented and destroyed. Time is the test's (`now`), never a clock.
 */
export class FakeProvider implements Provider {
  readonly name: ProviderName;
  /** the variable the fake "sets" to the instance id (ADR 0021); unset: none, as before */
  instanceIdEnv?: string;
  now = 0;
  offers: Offer[] = [];
  /** instances younger than this (ms) are not listed yet: the providers' read lag */
  listLagMs = 0;
  /** every method throws `unavailable` while true */
  down = false;
  readonly creates: CreatedCall[] = [];
  readonly destroyed: string[] = [];
  readonly calls: Record<'listOffers' | 'create' | 'get' | 'listTagged' | 'destroy', number> = emptyCalls();
  readonly machines = new Map<string, MachineBehaviour>();
  readonly #instances = new Map<string, Instance>();
  readonly #createKnobs: CreateKnob[] = [];
  readonly #failures = new Map<keyof FakeProvider['calls'], AnexError>();
  #nextId = 1;

  constructor(name: ProviderName) {
    this.name = name;
  }

  async listOffers(_requirements: Requirements, options: ListOffersOptions): Promise<Offer[]> {
    this.#enter('listOffers');
    const banned = new Set(options.excludeMachineIds ?? []);
    return this.offers
      .filter((o) => o.machineId === undefined || !banned.has(o.machineId))
      .map((o) => ({ ...o }));
  }

  async create(
    offer: Offer,
    launch: LaunchSpec,
    tag: InstanceTag,
    _options: CallOptions,
  ): Promise<CreateResult> {
    this.#enter('create');
    const knob = this.#createKnobs.shift() ?? 'created';
    if (knob instanceof AnexError) throw knob;
    if (knob === 'offer-gone' || knob === 'capacity') {
      this.offers = this.offers.filter((o) => o.offerId !== offer.offerId);
      return { outcome: knob, reason: knob === 'offer-gone' ? 'no_such_ask' : 'no capacity left' };
    }
    if (knob === 'lost-request') throw unknownOutcome();
    this.creates.push({ offer, launch, tag });
    const instance: Instance = {
      id: `i-${this.#nextId++}`,
      provider: this.name,
      tag: parseTag(formatTag(tag)) ?? tag,
      state: { phase: 'starting' },
      gpuName: offer.gpuName,
      gpuCount: offer.gpuCount,
      pricePerHour: offer.pricePerHour,
      createdAt: this.now,
      publicIp: `203.0.113.${this.#nextId}`,
      ...(offer.machineId === undefined ? {} : { machineId: offer.machineId }),
    };
    this.#instances.set(instance.id, instance);
    if (knob === 'lost-answer') throw unknownOutcome();
    return { outcome: 'created', instance: structuredClone(instance) };
  }

  async get(instanceId: string, _options: CallOptions): Promise<Instance> {
    this.#enter('get');
    const found = this.#instances.get(instanceId);
    return found === undefined
      ? { id: instanceId, provider: this.name, state: { phase: 'gone' } }
      : structuredClone(found);
  }

  async listTagged(_options: CallOptions): Promise<Instance[]> {
    this.#enter('listTagged');
    return [...this.#instances.values()]
      .filter((i) => i.tag !== undefined && this.now - (i.createdAt ?? 0) >= this.listLagMs)
      .map((i) => structuredClone(i));
  }

  async destroy(instanceId: string, _options: CallOptions): Promise<'destroyed' | 'gone'> {
    this.#enter('destroy');
    if (!this.#instances.delete(instanceId)) return 'gone';
    this.destroyed.push(instanceId);
    return 'destroyed';
  }

  // ---- knobs ----

  /** Queues what the next create calls do, in order. */
  onCreate(...knobs: CreateKnob[]): this {
    this.#createKnobs.push(...knobs);
    return this;
  }

  /** The next call of `method` throws `error` (default `unavailable`), once. */
  failNext(method: keyof FakeProvider['calls'], error?: AnexError): this {
    this.#failures.set(
      method,
      error ??
        new AnexError(`${this.name} answered 503 (injected)`, { kind: 'unavailable', retryable: true }),
    );
    return this;
  }

  /** Moves every starting instance on by its machine's behaviour (default: it starts). */
  advance(): void {
    for (const instance of this.#instances.values()) {
      if (instance.state.phase !== 'starting' && instance.state.phase !== 'pending') continue;
      const behaviour = this.machines.get(instance.machineId ?? '') ?? 'starts';
      if (behaviour === 'starts') instance.state = { phase: 'running' };
      else if (behaviour !== 'never-starts') {
        instance.state = { phase: 'failed', fault: behaviour.fault, reason: behaviour.reason };
      }
    }
  }

  setState(instanceId: string, state: InstanceState): void {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) throw new Error(`no instance ${instanceId}`);
    instance.state = state;
  }

  /** Instances that exist (and bill) now. */
  live(): Instance[] {
    return [...this.#instances.values()].map((i) => structuredClone(i));
  }

  /** Puts an instance in place as if created by an earlier process (adoption, GC tests). */
  seed(instance: Omit<Instance, 'provider'>): void {
    this.#instances.set(instance.id, { ...structuredClone(instance), provider: this.name });
  }

  reset(): void {
    this.now = 0;
    this.offers = [];
    this.listLagMs = 0;
    this.down = false;
    this.creates.length = 0;
    this.destroyed.length = 0;
    this.machines.clear();
    this.#instances.clear();
    this.#createKnobs.length = 0;
    this.#failures.clear();
    Object.assign(this.calls, emptyCalls());
  }

  #enter(method: keyof FakeProvider['calls']): void {
    this.calls[method] += 1;
    if (this.down)
      throw new AnexError(`${this.name} is down (injected)`, { kind: 'unavailable', retryable: true });
    const failure = this.#failures.get(method);
    if (failure !== undefined) {
      this.#failures.delete(method);
      throw failure;
    }
  }
}

function unknownOutcome(): AnexError {
  return new AnexError('create request timed out after it was sent (injected)', { kind: 'unknown-outcome' });
}

function emptyCalls(): FakeProvider['calls'] {
  return { listOffers: 0, create: 0, get: 0, listTagged: 0, destroy: 0 };
}
