import { afterAll, afterEach, beforeAll } from 'vitest';

/** What the lifecycle hooks need of a simulator (both vendor simulators have it). */
export interface ManagedSim {
  start(): Promise<string>;
  stop(): Promise<void>;
  assertNoInstances(): void;
  reset(): void;
}

/**
 * Starts a simulator for the test file and registers the money-safety check: a test that
 * leaves an instance behind fails in afterEach, and the simulator is reset either way.
 * Hooks run in registration order, so call this before hooks that need `url`.
 */
export function useSim(sim: ManagedSim): { url: string } {
  const state = { url: '' };
  beforeAll(async () => {
    state.url = await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(() => {
    try {
      sim.assertNoInstances();
    } finally {
      sim.reset();
    }
  });
  return state;
}

/**
 * Starts a simulator that accepts only its own key, for wrong-key tests: nothing may be
 * rented on it, so the leak check runs once at the end.
 */
export function useGuardedSim(sim: Omit<ManagedSim, 'reset'>): { url: string } {
  const state = { url: '' };
  beforeAll(async () => {
    state.url = await sim.start();
  });
  afterAll(async () => {
    sim.assertNoInstances();
    await sim.stop();
  });
  return state;
}
