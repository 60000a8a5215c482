import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, eventually } from '../../support/index.ts';
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

describe('the pod spec on vastai: env and files from Secrets, ConfigMaps and pod fields (issue #14)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    // Enough RTX 4090 machines that each test rents a fresh one (a destroyed machine's offer
    // stays claimed by the pod that rented it for a while).
    ground = await startGround('vastai', { offers: 200 });
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

  it('the pod of the issue: env from a Secret, a ConfigMap and a field, files with their modes, an init container’s file — Running, restartCount 0', async () => {
    const ns = await createTestNamespace('e2e-whole');
    await ns.core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'hf' }, stringData: { token: SECRET_VALUE, key: 'k-123' } },
    });
    await ns.core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'settings' }, data: { MODE: 'train' } },
    });
    await ns.core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'app' }, data: { 'config.yaml': 'lr: 0.1' } },
    });
    const pod = aGpuPod(ground, 'whole', { restartPolicy: 'Always' });
    const main = pod.spec?.containers[0];
    if (pod.spec === undefined || main === undefined) throw new Error('aGpuPod made no container');
    const work = [{ name: 'work', mountPath: '/work' }];
    main.env = [
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ];
    main.envFrom = [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }];
    main.volumeMounts = [
      { name: 'config', mountPath: '/etc/app' },
      { name: 'secret', mountPath: '/run/secret', readOnly: true },
      ...work,
    ];
    pod.spec.volumes = [
      {
        name: 'config',
        configMap: { name: 'app', items: [{ key: 'config.yaml', path: 'config.yaml', mode: 0o440 }] },
      },
      { name: 'secret', secret: { secretName: 'hf', items: [{ key: 'key', path: 'key' }] } },
      { name: 'work', emptyDir: {} },
    ];
    pod.spec.initContainers = [
      {
        name: 'prep',
        image: main.image ?? '',
        command: ['sh', '-c', 'echo ready > /work/prepared'],
        volumeMounts: work,
      },
    ];
    const check = [
      `test "$TOKEN" = "${SECRET_VALUE}"`,
      'test "$CFG_MODE" = train',
      'test "$POD_NAME" = whole',
      'test "$(cat /etc/app/config.yaml)" = "lr: 0.1"',
      'test "$(stat -L -c %a /etc/app/config.yaml)" = 440',
      'test "$(cat /run/secret/key)" = k-123',
      'test "$(cat /work/prepared)" = ready',
    ].join(' && ');
    main.command = ['sh', '-c', `${check} || exit 1; echo whole-ok; while :; do sleep 0.5; done`];
    const creates = ground.sim.requestCount('create');
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    await passUntil(ground, ns, 'whole', {
      what: 'Running, its checks passed',
      check: (p) =>
        p.status?.phase === 'Running' &&
        ground.sim
          .liveInstances()
          .some((i) => (ground.agents.runner.logOf(`vastai/${i.id}`) ?? '').includes('whole-ok')),
    });
    for (let i = 0; i < 3; i++) await ground.pass();
    const after = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'whole' });
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(after.status?.phase).toBe('Running');
    expect(ground.sim.requestCount('create') - creates).toBe(1);
    const written = [
      JSON.stringify(await ground.deps.store.listPods()),
      (await eventLines(ns.core, ns.name, created.metadata?.uid as string)).join('\n'),
      ground.agents.logged.join('\n'),
      ground.agents.said.join('\n'),
      JSON.stringify(ground.agents.reports),
      JSON.stringify(after.status),
    ].join('\n');
    for (const secret of [SECRET_VALUE, 'k-123', Buffer.from(SECRET_VALUE).toString('base64')])
      expect(written).not.toContain(secret);
    await deleteAndDrain(ground, ns);
  });

  it('runs the init container to completion and the sidecar alongside, as kubelet shows them', async () => {
    const ns = await createTestNamespace('e2e-inits');
    await ns.core.createNamespacedPod({ namespace: ns.name, body: initPod(ground) });
    const running = await passUntil(ground, ns, 'inits', {
      what: 'Running, its init and sidecar checks passed',
      check: (p) =>
        p.status?.phase === 'Running' &&
        (ground.agents.runner.logOf(`vastai/${ground.sim.liveInstances()[0]?.id}`) ?? '').includes(
          'init-ok',
        ) &&
        p.status.initContainerStatuses?.[0]?.state?.terminated !== undefined,
    });
    for (let i = 0; i < 3; i++) await ground.pass();
    const after = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'inits' });
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    const [setup, heartbeat] = after.status?.initContainerStatuses ?? [];
    expect(setup?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(heartbeat?.state?.running).toBeDefined();
    expect(heartbeat?.restartCount).toBe(0);
    expect(running.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');
    await deleteAndDrain(ground, ns);
  });

  it('writes secret, configMap, downwardAPI and projected files before the command runs, makes emptyDirs, never the service-account token', async () => {
    const ns = await createTestNamespace('e2e-files');
    const pod = filesPod(ground);
    const creates = ground.sim.requestCount('create');
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    const uid = created.metadata?.uid as string;
    await passUntil(ground, ns, 'files', {
      what: 'held in ContainerCreating (FailedMount) while the ConfigMap is missing',
      check: (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ContainerCreating',
    });
    expect(ground.sim.requestCount('create')).toBe(creates);
    // Events are listed from the API server, which may show a just-created one a moment later.
    await eventually(
      async () => {
        const lines = await eventLines(ns.core, ns.name, uid);
        return lines.some((l) =>
          l.startsWith('FailedMount: MountVolume.SetUp failed for volume "hf" : secret "hf" not found'),
        )
          ? lines
          : undefined;
      },
      {
        what: 'the FailedMount event',
        timeoutMs: 10_000,
        describe: async () => (await eventLines(ns.core, ns.name, uid)).join(' | '),
      },
    );

    await ns.core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'app' }, data: { 'app.conf': 'mode=train\n', 'other.conf': 'x' } },
    });
    await ns.core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'hf' }, stringData: { token: SECRET_VALUE } },
    });
    await passUntil(ground, ns, 'files', {
      what: 'Running, its file checks passed',
      check: (p) =>
        p.status?.phase === 'Running' &&
        (ground.agents.runner.logOf(`vastai/${ground.sim.liveInstances()[0]?.id}`) ?? '').includes(
          'files-ok',
        ),
    });
    for (let i = 0; i < 3; i++) await ground.pass();
    const after = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'files' });
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(ground.sim.requestCount('create') - creates).toBe(1);
    const lines = (await eventLines(ns.core, ns.name, uid)).join('\n');
    // The service-account volume (as the ServiceAccount admission plugin adds it) was not given
    // to the machine — the workload checked — and the pod was told so.
    expect(lines).toContain('ServiceAccountTokenNotMounted: volume kube-api-access-e2e00');

    const written = [
      JSON.stringify(await ground.deps.store.listPods()),
      lines,
      ground.agents.logged.join('\n'),
      ground.agents.said.join('\n'),
      JSON.stringify(ground.agents.reports),
      JSON.stringify(after.status),
    ].join('\n');
    expect(written).not.toContain(SECRET_VALUE);
    expect(written).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
    await deleteAndDrain(ground, ns);
  });
});

/** An init container prepares, a sidecar keeps a heartbeat, the app container checks both. */
function initPod(ground: ReconcileGround): V1Pod {
  const pod = aGpuPod(ground, 'inits', { restartPolicy: 'Always' });
  const main = pod.spec?.containers[0];
  if (pod.spec === undefined || main === undefined) throw new Error('aGpuPod made no container');
  const mounts = [{ name: 'work', mountPath: '/work' }];
  const image = main.image ?? '';
  pod.spec.volumes = [{ name: 'work', emptyDir: {} }];
  pod.spec.initContainers = [
    {
      name: 'setup',
      image,
      command: ['sh', '-c', 'echo prepared > /work/ready'],
      volumeMounts: mounts,
    },
    {
      name: 'heartbeat',
      image,
      restartPolicy: 'Always',
      command: ['sh', '-c', 'while :; do date > /work/heartbeat; sleep 0.2; done'],
      volumeMounts: mounts,
    },
  ];
  main.volumeMounts = mounts;
  main.command = [
    'sh',
    '-c',
    'test "$(cat /work/ready)" = prepared && sleep 1 && test -s /work/heartbeat || exit 1; echo init-ok; while :; do sleep 0.5; done',
  ];
  return pod;
}

/** The workload exits 1 unless every file is where kubelet would have put it, with its mode. */
const FILE_CHECK = [
  `test "$(cat /etc/hf/token)" = "${SECRET_VALUE}"`,
  'test "$(stat -L -c %a /etc/hf/token)" = 400',
  'test "$(cat /etc/app/app.conf)" = mode=train',
  'test "$(cat /etc/single.conf)" = mode=train',
  'grep -qx \'app="files"\' /etc/podinfo/labels',
  'test "$(cat /etc/podinfo/name)" = files',
  'test "$(cat /etc/both/token)" = "$(cat /etc/hf/token)" && test -f /etc/both/app.conf',
  'echo data > /scratch/a && test "$(cat /scratch/a)" = data',
  'test -d /cache && echo c > /cache/x',
  'test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token',
].join(' && ');

function filesPod(ground: ReconcileGround): V1Pod {
  const pod = aGpuPod(ground, 'files', { restartPolicy: 'Always' });
  pod.metadata = { ...pod.metadata, labels: { ...(pod.metadata?.labels ?? {}), app: 'files' } };
  const main = pod.spec?.containers[0];
  if (pod.spec === undefined || main === undefined) throw new Error('aGpuPod made no container');
  main.command = ['sh', '-c', `${FILE_CHECK} || exit 1; echo files-ok; while :; do sleep 0.5; done`];
  main.volumeMounts = [
    { name: 'hf', mountPath: '/etc/hf', readOnly: true },
    { name: 'app', mountPath: '/etc/app' },
    { name: 'app', mountPath: '/etc/single.conf', subPath: 'app.conf' },
    { name: 'podinfo', mountPath: '/etc/podinfo' },
    { name: 'both', mountPath: '/etc/both' },
    { name: 'scratch', mountPath: '/scratch' },
    { name: 'scratch', mountPath: '/cache', subPath: 'cache' },
    {
      name: 'kube-api-access-e2e00',
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    },
  ];
  // The API server requires a service account for a token volume; "default" is what the plugin sets.
  pod.spec.serviceAccountName = 'default';
  pod.spec.volumes = [
    { name: 'hf', secret: { secretName: 'hf', defaultMode: 0o400 } },
    { name: 'app', configMap: { name: 'app' } },
    {
      name: 'podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
        ],
      },
    },
    {
      name: 'both',
      projected: {
        sources: [
          { secret: { name: 'hf', items: [{ key: 'token', path: 'token' }] } },
          { configMap: { name: 'app', items: [{ key: 'app.conf', path: 'app.conf' }] } },
        ],
      },
    },
    { name: 'scratch', emptyDir: { sizeLimit: '64Mi' } },
    // What the ServiceAccount admission plugin adds to every pod (this test cluster runs without it).
    {
      name: 'kube-api-access-e2e00',
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
  return pod;
}
