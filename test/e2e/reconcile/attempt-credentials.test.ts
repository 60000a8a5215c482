import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, passUntil } from './pods.ts';

// ADR 0021 on the real control plane (kube-apiserver, scheduler, controller-manager) with the
// real agent on simulated machines: the agent bootstraps with its token and the instance id
// Vast sets (CONTAINER_ID); when the machine is lost and the attempt replaced, the first
// attempt's token and status credential are refused by the endpoint and its key is gone from
// the gateway's desired peer set, while the second attempt's agent runs the pod.

/** The first file called `name` under `dir` (the agent's restart marker sits in the machine's temp dir). */
function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat?.isFile() && entry === name) return path;
    if (stat?.isDirectory() && !stat.isSymbolicLink()) {
      const found = findFile(path, name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

describe('credentials bound to one attempt, on vastai (ADR 0021)', () => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround('vastai', { offers: 100 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it("a lost machine is replaced: the first attempt's token and status credential are refused and its key leaves the peer set", async () => {
    const ns = await createTestNamespace('e2e-attempts');
    const pod = aGpuPod(ground, 'worker', { restartPolicy: 'Always' });
    const main = pod.spec?.containers[0];
    if (main !== undefined) main.command = ['sh', '-c', 'echo up; while :; do sleep 0.2; done'];
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    const uid = created.metadata?.uid as string;
    await passUntil(ground, ns, 'worker', { what: 'Running', check: (p) => p.status?.phase === 'Running' });

    // What the first machine holds: its token, the id Vast set there, and (in the agent's
    // marker) the status credential its bootstrap returned.
    const firstId = (await ground.deps.store.getPod(uid))?.instance?.id as string;
    const env = ground.sim.runningInstances().find((i) => i.id === firstId)?.env ?? {};
    expect([env.ANEX_INSTANCE_ID_ENV, env.CONTAINER_ID]).toEqual(['CONTAINER_ID', firstId]);
    const token = env.ANEX_BOOTSTRAP_TOKEN as string;
    const url = env.ANEX_AGENT_URL as string;
    const machine = ground.agents.runner.machines().get(`vastai/${firstId}`);
    const markerFile = findFile(machine?.dir as string, `.anex-agent-${uid}.json`) as string;
    const credential = (JSON.parse(readFileSync(markerFile, 'utf8')) as { credential: string }).credential;
    const peers = async () =>
      (await ground.deps.store.listAddresses()).filter((a) => a.podUid === uid).map((a) => a.publicKey);
    const [firstKey] = await peers();
    expect(firstKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(credential).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The host drops off: the attempt ends, a second machine runs the pod.
    (ground.sim as VastAiSim).loseHost(firstId);
    await passUntil(ground, ns, 'worker', {
      what: 'running again on a second machine',
      check: (p) => {
        const c = p.status?.containerStatuses?.[0];
        return (
          c?.state?.running !== undefined &&
          c.containerID !== undefined &&
          !c.containerID.endsWith(`/${firstId}`)
        );
      },
    });
    const secondId = (await ground.deps.store.getPod(uid))?.instance?.id as string;
    const [secondKey] = await peers();
    expect([secondKey === firstKey, secondKey === undefined]).toEqual([false, false]);

    const call = (path: string, init: { body?: unknown; credential?: string }) =>
      fetch(`${url}${path}`, {
        method: init.body === undefined ? 'GET' : 'POST',
        headers: {
          'content-type': 'application/json',
          ...(init.credential === undefined ? {} : { authorization: `Bearer ${init.credential}` }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      }).then((r) => r.status);
    const refused = [
      // the first token, on its own instance id and on the second machine's
      await call('/v1/bootstrap', {
        body: { token, podUid: uid, instanceId: firstId, publicKey: wgKeyPair().publicKey },
      }),
      await call('/v1/bootstrap', {
        body: { token, podUid: uid, instanceId: secondId, publicKey: wgKeyPair().publicKey },
      }),
      // the first credential, claiming the second attempt's run ended well, and asking pod-alive
      await call('/v1/status', { body: { podUid: uid, state: 'exited', exitCode: 0 }, credential }),
      await call(`/v1/pod-alive?podUid=${uid}`, { credential }),
    ];
    expect(refused).toEqual([401, 401, 401, 401]);
    expect(await peers()).toEqual([secondKey]);
    const alarms = ground.agents.logged
      .map((line) => JSON.parse(line) as { message: string; fields?: { podUid?: string; alarm?: boolean } })
      .filter(
        (l) =>
          l.message === 'agent credential refused' && l.fields?.podUid === uid && l.fields.alarm === true,
      );
    expect(alarms.length).toBeGreaterThanOrEqual(4);
    for (const secret of [token, credential]) expect(ground.agents.logged.join('\n')).not.toContain(secret);

    // The second attempt is untouched: still Running, not Succeeded.
    await ground.pass();
    const now = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'worker' });
    expect(now.status?.phase).toBe('Running');
    expect(liveInstances(ground).map((i) => i.id)).toEqual([secondId]);
    await deleteAndDrain(ground, ns);
    await eventually(async () => ((await peers()).length === 0 ? true : undefined), {
      what: 'the address released after the deletion',
      timeoutMs: 10_000,
    });
  });
});
