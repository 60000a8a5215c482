import type { V1Container } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPass } from '../../../lib/reconcile/pass.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { createTestNamespace, eventually } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, passUntilPhase } from './pods.ts';

// A workload that ends, end to end: the real agent on a simulated machine runs it, reports
// its exit code, and that report asks for the pod's own pass (cause agent-status), which
// destroys the instance. RunPod restarts an exited container and bills on until the pod is
// terminated (runpod audit #7): the pass after the report must terminate it, and the
// restarted agent must neither spend the token again nor run the workload twice. Vast shows
// `exited` after a normal end too (vast audit #7): no machine may be banned for it.

const DESTROY_ROUTE = { vastai: 'destroy', runpod: 'delete' } as const;

describe.each(['vastai', 'runpod'] as const)('a workload that ends on %s', (provider) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider, { offers: 100 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it.each([
    { code: 0, phase: 'Succeeded' },
    { code: 3, phase: 'Failed' },
  ])(
    'exit $code: $phase, the instance destroyed by the one pass its exit report asks for, no ban',
    async ({ code, phase }) => {
      const ns = await createTestNamespace(`e2e-exit-${code}`);
      const pod = aGpuPod(ground, 'job');
      const main = pod.spec?.containers[0] as V1Container;
      // The image's stand-in python runs for SIM_EXIT_AFTER seconds, then exits with SIM_EXIT_CODE.
      main.env = [
        { name: 'SIM_EXIT_AFTER', value: '2' },
        { name: 'SIM_EXIT_CODE', value: String(code) },
      ];
      const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
      const uid = created.metadata?.uid as string;
      await passUntilPhase(ground, ns, 'job', 'Running');
      const instanceId = (await ground.deps.store.getPod(uid))?.instance?.id as string;

      // No pass runs now: only the machines (RunPod restarts the exited container meanwhile).
      const restarted = 'this container was started again';
      await eventually(
        async () => {
          await ground.agents.runner.sync();
          const reported = (await ground.deps.store.getPod(uid))?.exitCode === code;
          const asked = ground.agents.asked.some((m) => m.podUid === uid && m.cause === 'agent-status');
          const log = [...ground.agents.runner.machines().values()].map((m) => m.log()).join('');
          const again = !(ground.sim instanceof RunPodSim) || log.includes(restarted);
          return reported && asked && again ? log : undefined;
        },
        {
          what: `the exit report (${code}), the pass it asks for${provider === 'runpod' ? ', and the restarted agent' : ''}`,
          timeoutMs: 60_000,
          intervalMs: 200,
          describe: async () =>
            JSON.stringify({ said: ground.agents.said.slice(-6), asked: ground.agents.asked }),
        },
      );
      if (ground.sim instanceof RunPodSim) {
        expect(ground.sim.containerRestarts(instanceId)).toBeGreaterThan(0);
        const log = [...ground.agents.runner.machines().values()].map((m) => m.log()).join('');
        // One run of the workload; the restarted agent presented no token (no refused bootstrap).
        expect(log.match(/python \(simulated\) started/g)).toHaveLength(1);
        expect(log).not.toContain('bootstrap refused');
      }

      const destroys = ground.sim.requestCount(DESTROY_ROUTE[provider]);
      await runPass(ground.deps, { now: ground.clock(), deadline: ground.clock() + 30_000, podUid: uid });
      expect(ground.sim.requestCount(DESTROY_ROUTE[provider])).toBe(destroys + 1);
      expect(liveInstances(ground).filter((i) => i.id === instanceId)).toEqual([]);
      const finished = await ns.core.readNamespacedPod({ namespace: ns.name, name: 'job' });
      expect(finished.status?.phase).toBe(phase);
      expect(finished.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(code);
      expect(await ground.deps.store.listBans(provider, ground.clock())).toEqual([]);

      await deleteAndDrain(ground, ns);
      await ground.agents.play();
      expect(ground.agents.runner.liveProcesses()).toEqual([]);
    },
  );
});
