import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace } from '../../support/index.ts';
import { type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil } from './pods.ts';

// Issue #14 §1 on the real control plane with the real agent on simulated machines that really
// run: env from a Secret, from a ConfigMap through envFrom with a prefix, from pod fields, with
// $(VAR) expansion — checked by the workload itself; a missing Secret holds the pod with
// kubelet's CreateContainerConfigError and rents nothing; the Secret's value appears nowhere
// anex writes (state, events, the endpoint's log, what the machines said).

const SECRET_VALUE = 'hf_e2e_secret_7f3a9c2b41d0';

/** The workload exits 1 unless its environment is exactly what kubelet would give it. */
const CHECK = [
  `test "$TOKEN" = "${SECRET_VALUE}"`,
  'test "$CFG_MODE" = train',
  'test "$CFG_LEVEL" = 3',
  'test "$POD_NAME" = envcheck',
  'test "$POD_NS" = "$EXPECT_NS"',
  'test "$OUT" = "/ckpt/envcheck"',
  'test -n "$POD_IP"',
].join(' && ');

function envPod(ground: ReconcileGround, namespace: string): V1Pod {
  const pod = aGpuPod(ground, 'envcheck', { restartPolicy: 'Always' });
  const main = pod.spec?.containers[0];
  if (main !== undefined) {
    main.command = ['sh', '-c', `${CHECK} || exit 1; echo env-ok; while :; do sleep 0.5; done`];
    main.envFrom = [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }];
    main.env = [
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'EXPECT_NS', value: namespace },
      { name: 'OUT', value: '/ckpt/$(POD_NAME)' },
    ];
  }
  return pod;
}

describe('the pod spec on vastai: env from Secrets, ConfigMaps and pod fields (issue #14)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 10 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it('holds the pod while its Secret is missing, then runs it with the environment kubelet would give', async () => {
    const ns = await createTestNamespace('e2e-env');
    await ns.core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'settings' }, data: { MODE: 'train', LEVEL: '3' } },
    });
    const creates = ground.sim.requestCount('create');
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: envPod(ground, ns.name) });
    const uid = created.metadata?.uid as string;
    await passUntil(ground, ns, 'envcheck', {
      what: 'held with CreateContainerConfigError',
      check: (p) =>
        p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError' &&
        p.status.containerStatuses[0].state.waiting.message === 'secret "hf" not found',
    });
    await ground.pass();
    expect(ground.sim.requestCount('create')).toBe(creates);
    expect(await eventLines(ns.core, ns.name, uid)).toEqual(
      expect.arrayContaining(['Failed: Error: secret "hf" not found']),
    );

    await ns.core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'hf' }, stringData: { token: SECRET_VALUE } },
    });
    const running = await passUntil(ground, ns, 'envcheck', {
      what: 'Running, its check passed',
      check: (p) =>
        p.status?.phase === 'Running' &&
        p.status.containerStatuses?.[0]?.state?.running !== undefined &&
        (ground.agents.runner.logOf(`vastai/${ground.sim.liveInstances()[0]?.id}`) ?? '').includes('env-ok'),
    });
    // A few passes more: the check would have exited 1 and been restarted by now.
    for (let i = 0; i < 3; i++) await ground.pass();
    const after = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'envcheck' });
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(running.status?.podIP).toMatch(/^10\.98\.0\.\d+$/);
    expect(ground.sim.requestCount('create') - creates).toBe(1);

    // The value was handed over in the bootstrap answer only.
    const written = [
      JSON.stringify(await ground.deps.store.listPods()),
      (await eventLines(ns.core, ns.name, uid)).join('\n'),
      ground.agents.logged.join('\n'),
      ground.agents.said.join('\n'),
      JSON.stringify(ground.agents.reports),
      JSON.stringify(after.status),
    ].join('\n');
    expect(written).not.toContain(SECRET_VALUE);
    await deleteAndDrain(ground, ns);
  });
});
