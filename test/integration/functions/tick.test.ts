import { CoordinationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_LEASE_NAMESPACE } from '../../../lib/manifests/rbac.ts';
import { PROVISIONED } from '../../../lib/reconcile/status.ts';
import { createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';
import {
  API_KEYS,
  type FunctionGround,
  type LambdaHandler,
  liveInstances,
  startFunctionGround,
} from './ground.ts';
import { aLambdaContext, aSchedulerEvent } from './lambda-events.ts';
import { captureOutput, type OutputCapture } from './output-capture.ts';
import { deleteThrough, seedPod } from './pods.ts';

// The deployed tick function, invoked as EventBridge Scheduler invokes it, on the real parts:
// its only Kubernetes credential is the `anex manifests` ServiceAccount's token (from the
// secret, as docs/deploy.md builds it), so every node, lease, pod status, event and delete
// below also proves the generated RBAC is sufficient.

let ground: FunctionGround;
let handler: LambdaHandler<unknown, void>;
let ns: TestNamespace;
let output: OutputCapture;

beforeAll(async () => {
  ground = await startFunctionGround({ runpod: true });
  ({ handler } = (await import('../../../functions/tick.ts')) as { handler: LambdaHandler<unknown, void> });
  ns = await createTestNamespace('fn-tick');
  output = captureOutput();
});

afterAll(async () => {
  output?.stop();
  await ns?.remove();
  await ground?.stop();
});

/** One scheduled invocation with 6 s left: the 2 s heartbeat window ends it well before. */
async function tick(): Promise<void> {
  await handler(aSchedulerEvent(), aLambdaContext('anex-tick', 6_000));
}

async function nodeState(name: string) {
  const node = await ground.adminCore.readNode({ name });
  const lease = await ground.admin
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE });
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return { ready, renewTime: new Date(lease.spec?.renewTime ?? 0).getTime() };
}

describe('tick handler on the real parts, as the anex ServiceAccount', () => {
  it('registers one Ready virtual node per provider and renews their Leases on each invocation', async () => {
    await tick();
    const first = await Promise.all(Object.values(ground.nodeNames).map(nodeState));
    expect(first.map((n) => n.ready)).toEqual(['True', 'True']);
    await tick();
    const second = await Promise.all(Object.values(ground.nodeNames).map(nodeState));
    expect(second.map((n) => n.ready)).toEqual(['True', 'True']);
    second.forEach((node, i) => {
      expect(node.renewTime).toBeGreaterThan(first[i]?.renewTime ?? Number.POSITIVE_INFINITY);
    });
    // The secret is read once per cold start, not per invocation.
    expect(ground.secrets.reads('reconciler')).toBe(1);
    // ...and only its own: tick never reads the agent's or the webhook's secret (ADR 0022).
    expect([ground.secrets.reads('agent'), ground.secrets.reads('webhook')]).toEqual([0, 0]);
  });

  it('rents for the seed example pod, reports it Running, and on delete destroys the instance before the pod goes', async () => {
    const created = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: seedPod('seed-example-vastai.yaml', ground.nodeNames.vastai),
    });
    const name = created.metadata?.name as string;
    const uid = created.metadata?.uid as string;
    await eventually(
      async () => {
        await tick(); // keeps the node Ready while the scheduler decides
        const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
        return pod.status?.phase === 'Running' ? pod : undefined;
      },
      { what: 'seed pod Running through tick', timeoutMs: 90_000, intervalMs: 0 },
    ).then((pod) => {
      expect(pod.spec?.nodeName).toBe(ground.nodeNames.vastai);
      const conditions = Object.fromEntries((pod.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conditions).toMatchObject({ PodScheduled: 'True', Ready: 'True', [PROVISIONED]: 'True' });
    });
    expect(liveInstances(ground).map((i) => i.label)).toEqual([`anex.${ground.clusterId}.${uid}`]);
    expect((await ground.store.getPod(uid))?.instance?.id).toBe(liveInstances(ground)[0]?.id);
    // The billed rate goes on the pod through pods/status — the role has no `patch pods`.
    const billed = (await ground.store.getPod(uid))?.instance?.pricePerHour;
    const shown = await ns.core.readNamespacedPod({ namespace: ns.name, name });
    expect(shown.metadata?.annotations?.['anex.sh/billed-price']).toBe(billed?.toFixed(4));

    await deleteThrough(ns, name, tick);
    expect(liveInstances(ground)).toEqual([]);
    ground.vast.assertNoInstances();
    ground.runpod?.assertNoInstances();
    expect(await ground.store.getPod(uid)).toBeUndefined();
  });

  it('never writes the ServiceAccount token or an API key to its logs', () => {
    const logs = output.text();
    expect(logs).toContain('"message":"heartbeat"');
    for (const secret of [ground.serviceAccount.token, API_KEYS.vastai, API_KEYS.runpod]) {
      expect(logs).not.toContain(secret);
    }
  });

  it('holds a token that is still refused what the role does not grant (list secrets → 403)', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(ground.serviceAccount.kubeconfigYaml);
    await expect(
      kubeConfig
        .makeApiClient(CoreV1Api)
        .listNamespacedSecret({ namespace: ground.serviceAccount.namespace }),
    ).rejects.toMatchObject({ code: 403 });
  });

  // Last: it takes the binding away (ground.stop() removes the rest).
  it('reports AuthFailures once the ClusterRoleBinding is gone: the generated role is what lets it work', async () => {
    // With the binding, no invocation so far reported one.
    expect(output.lines().filter((line) => 'AuthFailures' in line)).toEqual([]);
    await ground.admin.makeApiClient(RbacAuthorizationV1Api).deleteClusterRoleBinding({ name: 'anex' });
    const before = output.lines().length;
    const authFailures = await eventually(
      async () => {
        await tick().catch(() => undefined); // a refused pass is rethrown for the Errors alarm
        const counts = output
          .lines()
          .slice(before)
          .map((line) => line.AuthFailures)
          .filter((count) => typeof count === 'number');
        return counts.length > 0 ? counts : undefined;
      },
      {
        what: 'tick reporting AuthFailures without its ClusterRoleBinding',
        timeoutMs: 30_000,
        intervalMs: 0,
      },
    );
    expect(Math.min(...(authFailures as number[]))).toBeGreaterThan(0);
  });
});
