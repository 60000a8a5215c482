import type { Requirements } from '../../../lib/annotations/requirements.ts';
import type { AnexError } from '../../../lib/errors.ts';
import type { RegistryAuth } from '../../../lib/images/keyring.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';
import type { InstanceTag, LaunchSpec } from '../../../lib/providers/provider.ts';
import { PRIVATE_IMAGE_LOGIN } from '../../../lib/sim/common/images.ts';
import { someRequirements } from '../../support/offer-builders.ts';

export const CLUSTER = 'test-cluster';

/** Requirements for `provider` with nothing else asked for, unless overridden. */
export function aRequirements(provider: ProviderName, overrides: Partial<Requirements> = {}): Requirements {
  return someRequirements({ provider, ...overrides });
}

export function aLaunch(overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    image: 'ghcr.io/acme/job:1.2',
    env: { AGENT_URL: 'https://agent.example' },
    diskGb: 20,
    ...overrides,
  };
}

/** A login from a pod's pull Secret (lib/images/keyring.ts), for the simulators' private image by default. */
export function aRegistryAuth(overrides: Partial<RegistryAuth> = {}): RegistryAuth {
  return {
    registry: 'ghcr.io',
    username: PRIVATE_IMAGE_LOGIN.username,
    password: PRIVATE_IMAGE_LOGIN.password,
    secret: 'regcred',
    identity: 'ml/regcred@uid-1:1#ghcr.io',
    ...overrides,
  };
}

let counter = 0;
/** A fresh tag with a unique pod UID. */
export function aTag(clusterId = CLUSTER): InstanceTag {
  counter += 1;
  return { clusterId, podUid: `3f1c0000-0000-4000-8000-${String(counter).padStart(12, '0')}` };
}

/** A clock the test moves by hand: simulated lifecycles advance without waiting. */
export function manualClock(start = Date.UTC(2026, 7, 20)) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Records the delays the client would have slept, and returns at once. */
export function recordingSleep() {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
}

/** Wraps fetch so tests can see every request a client sends. */
export function recordingFetch() {
  const requests: { method: string; url: URL; headers: Headers; body: unknown }[] = [];
  const fetchFn: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    requests.push({ method: init?.method ?? 'GET', url, headers: new Headers(init?.headers), body });
    return globalThis.fetch(input, init);
  };
  return { requests, fetch: fetchFn };
}

/** The AnexError a call fails with (the test fails if it succeeds). */
export async function failureOf(promise: Promise<unknown>): Promise<AnexError> {
  try {
    await promise;
  } catch (caught) {
    return caught as AnexError;
  }
  throw new Error('expected a failure');
}
