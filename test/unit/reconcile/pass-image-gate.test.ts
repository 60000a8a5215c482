import { describe, expect, it } from 'vitest';
import type { ImageGate, ImageVerdict } from '../../../lib/reconcile/image-gate.ts';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { anOffer, gpuPod, harness, MINUTE } from './harness.ts';

/** A gate that answers `verdict` and remembers what it was asked. */
function gate(verdict: ImageVerdict): ImageGate & { asked: string[] } {
  const asked: string[] = [];
  const check: ImageGate = async (container, options) => {
    asked.push(`${container.image}@${options.arch}`);
    return verdict;
  };
  return Object.assign(check, { asked });
}

describe('runPass: the image check before renting', () => {
  it.each([
    {
      name: 'an image that does not exist',
      verdict: {
        outcome: 'refused',
        reason: 'ErrImagePull',
        message: 'Failed to pull image "ghcr.io/example/trainer:1": manifest unknown',
      },
    },
    {
      name: 'a tag without an amd64 variant',
      verdict: {
        outcome: 'refused',
        reason: 'ErrImagePull',
        message:
          'Failed to pull image "ghcr.io/example/trainer:1": no linux/amd64 variant (the tag has linux/arm64)',
      },
    },
    {
      name: 'a container with nothing to run',
      verdict: {
        outcome: 'refused',
        reason: 'CreateContainerError',
        message:
          'the image "ghcr.io/example/trainer:1" has no ENTRYPOINT or CMD and the container sets no command',
      },
    },
  ] satisfies { name: string; verdict: ImageVerdict }[])(
    "refuses $name: no create, an event naming the image, kubelet's reason",
    async ({ verdict }) => {
      const h = harness();
      const check = gate(verdict);
      h.deps.images = check;
      h.vast.offers = [anOffer()];
      const pod = h.cluster.addPod(gpuPod(1));

      const summary = await h.pass();
      expect(summary.errors).toEqual([]);
      expect(check.asked).toEqual(['ghcr.io/example/trainer:1@amd64']);
      expect(h.vast.creates).toHaveLength(0);
      expect(await h.store.getPod(pod.uid)).toBeUndefined();
      const status = h.cluster.pod('default', pod.name)?.status;
      expect(status?.phase).toBe('Pending');
      expect(status?.containerStatuses[0]?.state).toEqual({
        waiting: { reason: verdict.reason, message: verdict.message },
      });
      expect(status?.conditions.find((c) => c.type === PROVISIONED)).toMatchObject({
        status: 'False',
        reason: verdict.reason,
      });
      const events = h.cluster.events(pod);
      expect(events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Failed']]);
      expect(events[0]?.message).toContain('"ghcr.io/example/trainer:1"');
      expect(events[0]?.message).toContain('nothing was rented');

      // The next pass asks again (a pushed image is picked up) and still rents nothing.
      h.tick(MINUTE);
      await h.pass();
      expect(check.asked).toHaveLength(2);
      expect(h.vast.creates).toHaveLength(0);
    },
  );

  it('rents nothing while the registry cannot be asked, and says so', async () => {
    const h = harness();
    h.deps.images = gate({ outcome: 'retry', message: 'registry ghcr.io did not answer' });
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));

    await h.pass();
    expect(h.vast.creates).toHaveLength(0);
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.containerStatuses[0]?.state).toMatchObject({ waiting: { reason: 'Provisioning' } });
    expect(h.cluster.events(pod).map((e) => e.reason)).toEqual(['ProvisionFailed']);
  });

  it('rents once the image passes', async () => {
    const h = harness();
    const check = gate({ outcome: 'ok' });
    h.deps.images = check;
    h.vast.offers = [anOffer()];
    h.cluster.addPod(gpuPod(1));

    await h.pass();
    expect(check.asked).toHaveLength(1);
    expect(h.vast.creates).toHaveLength(1);
  });
});
