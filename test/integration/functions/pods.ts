import { readFileSync } from 'node:fs';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';

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
