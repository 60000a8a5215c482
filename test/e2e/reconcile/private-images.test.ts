import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusRow } from '../../../lib/cli/commands/status.ts';
import { RunPodProvider } from '../../../lib/providers/runpod/provider.ts';
import { PRIVATE_IMAGE_LOGIN } from '../../../lib/sim/common/images.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { createTestNamespace, type TestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil } from './pods.ts';

// Issue #14 §3 on the real control plane, the real agent and both simulated marketplaces: a
// pod on a private image runs with its imagePullSecret (Vast.AI image_login, a RunPod registry
// credential the pass makes, names in the create and sweeps afterwards), its CMD read from the
// image with the same login at the agent's bootstrap; a wrong Secret holds the pod with
// ErrImagePull and nothing is rented; the password appears nowhere anex writes.

const PRIVATE = 'ghcr.io/example/private-trainer:1';
const AUTH = (password: string) =>
  Buffer.from(`${PRIVATE_IMAGE_LOGIN.username}:${password}`).toString('base64');

async function pullSecret(ns: TestNamespace, name: string, password: string): Promise<void> {
  await ns.core.createNamespacedSecret({
    namespace: ns.name,
    body: {
      metadata: { name },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: {
        '.dockerconfigjson': JSON.stringify({ auths: { 'https://ghcr.io/v2/': { auth: AUTH(password) } } }),
      },
    },
  });
}

/** A pod on the private image; without `command` it runs the image's CMD (python train.py). */
function privatePod(ground: ReconcileGround, name: string, secret: string, command?: string[]): V1Pod {
  const pod = aGpuPod(ground, name, { image: PRIVATE, restartPolicy: 'Always' });
  const main = pod.spec?.containers[0];
  if (pod.spec === undefined || main === undefined) throw new Error('aGpuPod made no container');
  if (command === undefined) delete main.command;
  else main.command = command;
  pod.spec.imagePullSecrets = [{ name: secret }];
  return pod;
}

describe.each(['vastai', 'runpod'] as const)('a private image on %s (issue #14 §3)', (provider) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider, { offers: 100 });
    if (ground.sim instanceof RunPodSim) {
      // The ground's clock, so the credential sweep's grace can be stepped over (ground.skew).
      ground.deps.providers.runpod = new RunPodProvider({
        baseUrl: ground.sim.url,
        apiKey: 'e2e-key',
        clusterId: ground.deps.config.clusterId,
        timeoutMs: 1_500,
        now: ground.clock,
      });
    }
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('holds a pod whose Secret has the wrong login with ErrImagePull, rents nothing; runs one with the right login', async () => {
    const ns = await createTestNamespace('e2e-private');
    await pullSecret(ns, 'regcred', PRIVATE_IMAGE_LOGIN.password);
    await pullSecret(ns, 'wrongcred', 'not-the-password');
    const creates = ground.sim.requestCount('create');

    const wrong = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: privatePod(ground, 'wrong', 'wrongcred', ['sh', '-c', 'sleep 600']),
    });
    const held = await passUntil(ground, ns, 'wrong', {
      what: 'held with ErrImagePull (its login refused)',
      check: (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull',
    });
    expect(held.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      `failed to pull image "${PRIVATE}": pull access denied, repository does not exist or may require authorization: ghcr.io refused the login from imagePullSecret "wrongcred" (imagePullSecrets wrong?)`,
    );
    await ground.pass();
    expect(ground.sim.requestCount('create')).toBe(creates);
    expect(liveInstances(ground)).toEqual([]);
    if (ground.sim instanceof RunPodSim) expect(ground.sim.registryCredentials()).toEqual([]);

    const right = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: privatePod(ground, 'right', 'regcred'),
    });
    await passUntil(ground, ns, 'right', {
      what: 'Running the image’s CMD',
      check: (p) =>
        p.status?.phase === 'Running' &&
        [...ground.agents.runner.machines().values()].some((m) =>
          m.log().includes('python (simulated) started: train.py'),
        ),
    });
    expect(ground.sim.requestCount('create') - creates).toBe(1);
    if (ground.sim instanceof RunPodSim) {
      const credentials = ground.sim.registryCredentials();
      expect(credentials.map((c) => c.username)).toEqual([PRIVATE_IMAGE_LOGIN.username]);
      expect(credentials[0]?.name).toMatch(
        new RegExp(`^anex\\.${ground.deps.config.clusterId}\\.registry\\.[0-9a-f]{16}\\.\\d+$`),
      );
    }

    // The login went to the registry check and the provider's create only.
    const pods = [wrong, right].map((p) => p.metadata?.uid as string);
    const records = await ground.deps.store.listPods();
    const after = await Promise.all(
      ['wrong', 'right'].map((name) => ns.core.readNamespacedPod({ namespace: ns.name, name })),
    );
    const written = [
      JSON.stringify(records),
      ...(await Promise.all(pods.map(async (uid) => (await eventLines(ns.core, ns.name, uid)).join('\n')))),
      JSON.stringify(after.map((p) => [p.status, p.metadata?.annotations])),
      JSON.stringify(
        after.map((p) =>
          statusRow(
            { namespace: ns.name, name: p.metadata?.name ?? '' },
            provider,
            records.find((r) => r.podUid === p.metadata?.uid),
            ground.clock(),
          ),
        ),
      ),
      ground.agents.logged.join('\n'),
      ground.agents.said.join('\n'),
      JSON.stringify(ground.agents.reports),
      JSON.stringify(ground.sim.runningInstances().map((i) => i.env)),
    ].join('\n');
    for (const secret of [PRIVATE_IMAGE_LOGIN.password, AUTH(PRIVATE_IMAGE_LOGIN.password)])
      expect(written).not.toContain(secret);

    await deleteAndDrain(ground, ns);
    if (ground.sim instanceof RunPodSim) {
      // No pod names the credential any more: the pass sweeps it once its grace is over.
      await ground.pass();
      expect(ground.sim.registryCredentials()).toHaveLength(1);
      ground.skew(11 * 60_000);
      await ground.pass();
      expect(ground.sim.registryCredentials()).toEqual([]);
    }
  });
});
