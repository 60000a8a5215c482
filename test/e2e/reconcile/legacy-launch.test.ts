import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchBuilder } from '../../../lib/reconcile/launch.ts';
import { buildLaunchSpec } from '../../../lib/reconcile/launch.ts';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil } from './pods.ts';

// The launch shapes anex sent before ADR 0010, through the real adapters and the reconcile
// pass: the simulators refuse them with the providers' own errors (vast audit #2: onstart +
// args + args_str ≤ 4096, 400 invalid_args; runpod audit §1: a body over 102400 bytes, 413),
// the pod says so, and nothing is left rented. The ≈ 17 KB script is what agent.sh was.

const OLD_SCRIPT = `#!/bin/sh\n${'echo "a line of the old agent script"\n'.repeat(500)}`;

const legacy =
  (command: (script: string) => string[]): LaunchBuilder =>
  async (input) => ({ launch: 'plain', spec: { ...buildLaunchSpec(input), command: command(OLD_SCRIPT) } });

describe.each([
  {
    provider: 'vastai' as const,
    shape: 'one-string onstart `/bin/sh -c <17 KB script>`',
    launch: legacy((script) => [`/bin/sh -c '${script}'`]),
    says: /at most 4096 characters/,
  },
  {
    provider: 'vastai' as const,
    shape: 'exec form with the 17 KB script in args',
    launch: legacy((script) => ['/bin/sh', '-c', script]),
    says: /at most 4096 characters/,
  },
  {
    provider: 'runpod' as const,
    shape: 'a create body over 102400 bytes (the script seven times over)',
    launch: legacy((script) => ['/bin/sh', '-c', script.repeat(7)]),
    says: /request body is \d+ bytes; the limit is 102400/,
  },
])('the old launch on $provider: $shape', ({ provider, launch, says }) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider, { offers: 100 });
    ground.deps.launch = launch;
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('is refused by the simulator with the provider’s error, and nothing is rented', async () => {
    const ns = await createTestNamespace('e2e-legacy');
    const created = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aGpuPod(ground, 'legacy'),
    });
    const uid = created.metadata?.uid as string;
    await passUntil(ground, ns, 'legacy', {
      what: 'the refusal said on the pod',
      check: (p) =>
        says.test(
          `${p.status?.message ?? ''} ${p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? ''} ${JSON.stringify(p.status?.conditions ?? [])}`,
        ),
    });
    expect(ground.sim.requestCount('create')).toBeGreaterThan(0);
    expect(liveInstances(ground)).toEqual([]);
    const said = await eventLines(ns.core, ns.name, uid);
    expect(said.some((line) => says.test(line))).toBe(true);
    await deleteAndDrain(ground, ns);
  });
});
