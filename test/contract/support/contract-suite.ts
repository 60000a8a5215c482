import { beforeAll, describe, expect, it } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { Provider } from '../../../lib/providers/provider.ts';
import type { Fault } from '../../../lib/sim/common/faults.ts';
import { type ManagedSim, useSim } from '../../unit/providers/sim-lifecycle.ts';
import type { Exchange } from './openapi-validator.ts';

/** A named run of client calls whose recorded exchanges are checked against the spec. */
export type Scenario = [string, () => Promise<unknown>];

/** Where the two simulators listen, and the client options that record every exchange without waiting. */
export interface ContractSetup {
  url: string;
  guardedUrl: string;
  fast: { fetch: typeof globalThis.fetch; sleep: () => Promise<void>; clusterId: string };
}

/**
 * Runs an open simulator (leak-checked and reset after each test) and one that accepts a
 * single key (for the 401 answers); `ready` builds the clients once both listen.
 */
export function useContractSims(
  sims: { open: ManagedSim; guarded: ManagedSim },
  recorder: { fetch: typeof globalThis.fetch },
  ready: (setup: ContractSetup) => void,
): void {
  const open = useSim(sims.open);
  const guarded = useSim(sims.guarded);
  beforeAll(() => {
    const fast = { fetch: recorder.fetch, sleep: async () => {}, clusterId: 'contract' };
    ready({ url: open.url, guardedUrl: guarded.url, fast });
  });
}

/** Awaits a call whose failure is the point of the scenario (the answer is what gets checked). */
export async function ignore(promise: Promise<unknown>): Promise<void> {
  await promise.catch(() => undefined);
}

export interface ContractSuite {
  title: string;
  scenarios: readonly Scenario[];
  recorder: { exchanges: Exchange[] };
  /** The spec problems of one exchange (with the vendor's documented deviations applied). */
  violations: (exchange: Exchange) => string[];
  /** What the validator has seen, as `METHOD /path status`. */
  covered: ReadonlySet<string>;
  /** Every endpoint and answer anex relies on; the scenarios must have produced each one. */
  relied: readonly string[];
}

/** One test per scenario (it must exchange something, all of it clean), then the coverage check. */
export function describeContract(suite: ContractSuite): void {
  describe(suite.title, () => {
    it.each(suite.scenarios)(
      '%s',
      async (_name, run) => {
        suite.recorder.exchanges.length = 0;
        await run();
        expect(suite.recorder.exchanges.length).toBeGreaterThan(0);
        const problems = suite.recorder.exchanges.flatMap((e) =>
          suite.violations(e).map((v) => `${e.method} ${e.url.pathname} ${e.status}: ${v}`),
        );
        expect(problems).toEqual([]);
        // Requests are paced to the vendor's rate limits (× ANEX_SIM_PACE_SCALE): a scenario that
        // rents and destroys dozens of instances takes seconds.
      },
      60_000,
    );

    it('covered every endpoint and answer anex relies on', () => {
      expect([...suite.covered]).toEqual(expect.arrayContaining([...suite.relied]));
    });
  });
}

export interface SharedScenarioParts {
  sim: { inject(fault: Fault): void };
  provider: () => Provider;
  /** An offer whose create succeeds. */
  offer: () => Promise<Offer>;
  /** Rents `offer` and returns the instance id. */
  rent: (offer?: Offer) => Promise<string>;
  /** The simulator's name for the single-instance read (`get`, `show`). */
  readEndpoint: string;
  /** The gateway 5xx the vendor is seen to answer besides 500. */
  gatewayStatus: number;
  clock: { advance(ms: number): void };
  /** The lifecycle scenario's name and the clock steps that walk an instance through every state. */
  lifecycle: { name: string; steps: readonly number[] };
}

/**
 * The scenarios both vendors run with the same calls: a lifecycle walk with a repeated delete,
 * a 429 on create, 5xx on a read. One definition serves both contracts.
 */
export function sharedScenarios(parts: SharedScenarioParts): Scenario[] {
  const { sim, provider, offer, rent, readEndpoint, gatewayStatus, clock, lifecycle } = parts;
  return [
    [
      lifecycle.name,
      async () => {
        const id = await rent();
        for (const step of lifecycle.steps) {
          clock.advance(step);
          await provider().get(id, {});
        }
        await provider().destroy(id, {});
        await provider().destroy(id, {});
        await provider().get(id, {});
      },
    ],
    [
      'create refused with 429, then accepted',
      async () => {
        const target = await offer();
        sim.inject({ endpoint: 'create', action: 'rate-limit' });
        await provider().destroy(await rent(target), {});
      },
    ],
    [
      `${readEndpoint} answered 500 and ${gatewayStatus}, then 200`,
      async () => {
        const id = await rent();
        sim.inject({ endpoint: readEndpoint, action: 'status', status: 500 });
        sim.inject({ endpoint: readEndpoint, action: 'status', status: gatewayStatus });
        await provider().get(id, {});
        await provider().destroy(id, {});
      },
    ],
  ];
}
