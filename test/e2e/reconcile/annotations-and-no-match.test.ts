import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntilPhase, passUntilWaiting } from './pods.ts';

// Issue #5 on the real parts: a pod the user got wrong says why, in its status and its events,
// and proceeds once fixed; a pod nothing matches says how far each filter got and what nearly fit.

describe('what a Pending pod tells its user (vastai simulator, real control plane, dynalite)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 200 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('invalid annotations: Pending with a condition and an event naming each; fixed → Running', async () => {
    const ns = await createTestNamespace('e2e-invalid');
    const annotations = {
      'anex.sh/gpu-names': 'RTX 4090',
      'anex.sh/vram-min': 'lots',
      'anex.sh/cpu-cores': '8',
    };
    const created = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'bad-spec', { annotations }),
    });
    const uid = created.metadata?.uid as string;
    const pending = await passUntilWaiting(ground, ns, 'bad-spec', 'InvalidAnnotations');
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('InvalidAnnotations');
    const condition = pending.status?.conditions?.find((c) => c.type === PROVISIONED);
    expect(condition).toMatchObject({ status: 'False', reason: 'InvalidAnnotations' });
    const invalid = (await eventLines(ns.core, ns.name, uid)).filter((l) =>
      l.startsWith('InvalidAnnotations:'),
    );
    expect(invalid).toHaveLength(1);
    for (const text of [condition?.message ?? '', invalid[0] ?? '']) {
      expect(text).toContain('anex.sh/vram-min');
      expect(text).toContain('lots');
      expect(text).toContain('anex.sh/cpu-cores');
      expect(text).toContain('anex.sh/cpu');
    }
    expect(liveInstances(ground)).toEqual([]);

    await ns.core.patchNamespacedPod(
      {
        namespace: ns.name,
        name: 'bad-spec',
        body: { metadata: { annotations: { 'anex.sh/vram-min': '20000', 'anex.sh/cpu-cores': null } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const running = await passUntilPhase(ground, ns, 'bad-spec', 'Running');
    expect(running.status?.conditions?.find((c) => c.type === PROVISIONED)?.status).toBe('True');
    expect(liveInstances(ground)).toHaveLength(1);

    await deleteAndDrain(ground, ns);
  });

  it('no match: a NoMatchingOffers event with the filter funnel and the near miss', async () => {
    const ns = await createTestNamespace('e2e-nomatch');
    // Vast reports an RTX 4090 as 24564 MB: "24 GB" asked as 24576 MB misses every one by 12 MB.
    const annotations = { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/vram-min': '24576' };
    const created = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'too-picky', { annotations }),
    });
    const uid = created.metadata?.uid as string;
    const pod = await passUntilWaiting(ground, ns, 'too-picky', 'NoMatchingOffers');
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('NoMatchingOffers');
    const noMatch = (await eventLines(ns.core, ns.name, uid)).filter((l) =>
      l.startsWith('NoMatchingOffers:'),
    );
    expect(noMatch).toHaveLength(1);
    const message = noMatch[0] ?? '';
    // The funnel: the offers searched, then each filter with what remains, down to 0.
    expect(message).toMatch(/\d+ offers → gpu-names \d+ → .*vram \d+/);
    expect(message).toMatch(/→ [a-z-]+ 0/);
    expect(message).toMatch(/nearest miss: 1x RTX 4090 at \$\d+\.\d{3}\/h \(.*24564.*24576.*\)/);
    expect(liveInstances(ground)).toEqual([]);

    await deleteAndDrain(ground, ns);
  });
});
