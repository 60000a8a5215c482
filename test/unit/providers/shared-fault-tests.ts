import { expect, it } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import type { Instance, Provider } from '../../../lib/providers/provider.ts';
import type { Fault } from '../../../lib/sim/common/faults.ts';
import { aLaunch, aTag, failureOf as error, type recordingFetch } from './builders.ts';

export interface SharedFaultParts<P extends Provider> {
  sim: { inject(fault: Fault): void; liveInstances(): readonly unknown[] };
  setup: (extra?: { timeoutMs?: number; maxAttempts?: number }) => {
    provider: P;
    requests: ReturnType<typeof recordingFetch>['requests'];
  };
  /** An offer whose create succeeds. */
  offer: (provider: P) => Promise<Offer>;
  /** The HTTP method of the vendor's create (`POST`, `PUT`). */
  createMethod: string;
  /** A 5xx the create answers after processing. */
  createStatus: number;
  /** Rents one instance on the simulator. */
  rentOne: (provider: P) => Promise<{ instance: Instance }>;
  /**
   * The simulator's name for the single-instance read (`get`, `show`), an id it does not know
   * and a transient 5xx the read is seen to answer.
   */
  read: { endpoint: string; unknownId: string; transientStatus: number };
}

/**
 * The fault rules every adapter keeps, run against its simulator: a create is sent at most
 * once unless refused before processing (429), an ambiguous answer is `unknown-outcome` and
 * the instance is then found by its tag; a read is retried on 5xx and times out when it hangs.
 * Call inside a describe of the vendor's test file.
 */
export function sharedFaultTests<P extends Provider>(parts: SharedFaultParts<P>): void {
  const { sim, setup, offer, rentOne, createMethod, createStatus, read } = parts;

  it('retries 5xx on a read', async () => {
    const { provider, requests } = setup();
    const { instance } = await rentOne(provider);
    sim.inject({ endpoint: read.endpoint, action: 'status', status: read.transientStatus, count: 2 });
    expect((await provider.get(instance.id, {})).id).toBe(instance.id);
    const reads = requests.filter((r) => r.method === 'GET' && r.url.pathname.includes(instance.id));
    expect(reads).toHaveLength(3);
    await provider.destroy(instance.id, {});
  });

  it('never resends a create answered 5xx: unknown-outcome, then listTagged finds the instance', async () => {
    const { provider, requests } = setup();
    const target = await offer(provider);
    sim.inject({ endpoint: 'create', action: 'status', status: createStatus, after: true });
    const tag = aTag();
    expect((await error(provider.create(target, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    expect(requests.filter((r) => r.method === createMethod)).toHaveLength(1);
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
  });

  it('resends a create refused with 429 and creates exactly once', async () => {
    const { provider, requests } = setup();
    const target = await offer(provider);
    sim.inject({ endpoint: 'create', action: 'rate-limit' });
    const result = await provider.create(target, aLaunch(), aTag(), {});
    expect(result.outcome).toBe('created');
    expect(requests.filter((r) => r.method === createMethod)).toHaveLength(2);
    expect(sim.liveInstances()).toHaveLength(1);
    if (result.outcome === 'created') await provider.destroy(result.instance.id, {});
  });

  it('times out a read that never answers', async () => {
    const { provider } = setup({ timeoutMs: 30, maxAttempts: 2 });
    sim.inject({ endpoint: read.endpoint, action: 'hang', count: 2 });
    expect((await error(provider.get(read.unknownId, {}))).kind).toBe('timeout');
  });

  it('turns a create whose answer never comes into unknown-outcome; listTagged finds it', async () => {
    const { provider } = setup();
    const target = await offer(provider);
    // Only the create runs with a short timeout: a loaded CI machine must not time out the listing.
    const { provider: impatient } = setup({ timeoutMs: 300 });
    sim.inject({ endpoint: 'create', action: 'hang', after: true });
    const tag = aTag();
    expect((await error(impatient.create(target, aLaunch(), tag, {}))).kind).toBe('unknown-outcome');
    const found = (await provider.listTagged({})).filter((i) => i.tag?.podUid === tag.podUid);
    expect(found).toHaveLength(1);
    await provider.destroy(found[0]?.id ?? '', {});
  });
}

/** Destroy is idempotent and a destroyed id reads as gone, for every adapter. */
export function sharedDestroyTests<P extends Provider>(
  parts: Pick<SharedFaultParts<P>, 'setup' | 'rentOne'>,
): void {
  it('destroys once, then answers gone; get of a destroyed id is gone', async () => {
    const { provider } = parts.setup();
    const { instance } = await parts.rentOne(provider);
    expect(await provider.destroy(instance.id, {})).toBe('destroyed');
    expect(await provider.destroy(instance.id, {})).toBe('gone');
    expect((await provider.get(instance.id, {})).state).toEqual({ phase: 'gone' });
  });
}
