import { readFileSync } from 'node:fs';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually } from '../../support/index.ts';

/** A seed example pod (test/fixtures/pods), pinned to `nodeName`: the shared cluster may hold other runs' virtual nodes. */
export function seedPod(
  file: 'seed-example-vastai.yaml' | 'seed-example-runpod.yaml',
  nodeName: string,
): V1Pod {
  const pod = parse(readFileSync(new URL(`../../fixtures/pods/${file}`, import.meta.url), 'utf8')) as V1Pod;
  const spec = pod.spec as NonNullable<V1Pod['spec']>;
  spec.nodeSelector = { ...spec.nodeSelector, 'kubernetes.io/hostname': nodeName };
  return pod;
}

export async function podGone(core: CoreV1Api, namespace: string, name: string): Promise<boolean> {
  return core.readNamespacedPod({ namespace, name }).then(
    () => false,
    (error: { code?: number }) => error.code === 404,
  );
}

/** Creates the seed pod in `ns` and waits for the real scheduler to bind it to `nodeName`. */
export async function createBoundSeedPod(
  ns: { name: string; core: CoreV1Api },
  file: Parameters<typeof seedPod>[0],
  nodeName: string,
): Promise<{ name: string; uid: string }> {
  const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: seedPod(file, nodeName) });
  const name = created.metadata?.name as string;
  await eventually(
    async () => {
      const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
      return pod.spec?.nodeName === nodeName ? true : undefined;
    },
    { what: `the scheduler binding ${name} to ${nodeName}`, timeoutMs: 15_000 },
  );
  return { name, uid: created.metadata?.uid as string };
}

/**
 * Deletes the pod as a user would, then runs `pass` until the reconciler has finalized it.
 * `stopped`, when the pod's agent bootstrapped, plays the agent's side of a graceful stop
 * (pod-alive says stop, the exit is reported) before the passes.
 */
export async function deleteThrough(
  ns: { name: string; core: CoreV1Api },
  name: string,
  pass: () => Promise<unknown>,
  stopped?: () => Promise<void>,
): Promise<void> {
  await ns.core.deleteNamespacedPod({ namespace: ns.name, name });
  await stopped?.();
  await eventually(
    async () => {
      await pass();
      return (await podGone(ns.core, ns.name, name)) ? true : undefined;
    },
    { what: `${name} finalized after delete`, timeoutMs: 60_000, intervalMs: 200 },
  );
}
