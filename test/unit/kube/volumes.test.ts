import type { V1PodSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { PodFields } from '../../../lib/kube/env.ts';
import {
  type AgentVolume,
  type FileReader,
  mountsOf,
  resolveVolumes,
  volumeSources,
  volumesOf,
} from '../../../lib/kube/volumes.ts';

// issue #14 §2, kubelet's rules (pkg/volume/secret, configmap, downwardapi, projected;
// pkg/fieldpath FormatMap): keys become files, items select and rename, modes default to 0644
// (420), a missing non-optional source or key fails the mount with kubelet's words.

const fields: PodFields = {
  name: 'train',
  namespace: 'ml',
  uid: 'uid-1',
  labels: { app: 'train', tier: 'gpu' },
  annotations: { 'anex.sh/gpu-names': 'RTX 4090' },
};
const bytes = (text: string) => new TextEncoder().encode(text);
const b64 = (text: string) => Buffer.from(text).toString('base64');
const sources: Record<string, Record<string, Uint8Array>> = {
  'Secret/hf': { token: bytes('hf_secret'), 'config.json': bytes('{"a":1}') },
  'ConfigMap/cfg': { 'mode.txt': bytes('train'), binary: new Uint8Array([0, 255, 1]) },
};
const read: FileReader = async (kind, name) => sources[`${kind}/${name}`];

async function resolve(spec: V1PodSpec) {
  const { volumes, skipped } = volumesOf(spec);
  const container = spec.containers[0];
  if (container === undefined) throw new Error('no container');
  return resolveVolumes(volumes, mountsOf(container, skipped), {
    fields,
    resources: { main: { limits: { memory: '2Gi' } } },
    read,
  });
}

const pod = (
  volumes: NonNullable<V1PodSpec['volumes']>,
  mounts: NonNullable<V1PodSpec['containers'][0]['volumeMounts']>,
): V1PodSpec => ({
  containers: [{ name: 'main', image: 'img', volumeMounts: mounts }],
  volumes,
});

describe('resolveVolumes', () => {
  it.each<[string, V1PodSpec, AgentVolume[]]>([
    [
      'a secret: every key a file, mode 0644',
      pod(
        [{ name: 's', secret: { secretName: 'hf' } }],
        [{ name: 's', mountPath: '/etc/hf', readOnly: true }],
      ),
      [
        {
          name: 's',
          path: '/etc/hf',
          readOnly: true,
          files: [
            { path: 'config.json', mode: 0o644, data: b64('{"a":1}') },
            { path: 'token', mode: 0o644, data: b64('hf_secret') },
          ],
        },
      ],
    ],
    [
      'items rename and set modes; defaultMode for the rest',
      pod(
        [
          {
            name: 's',
            secret: {
              secretName: 'hf',
              defaultMode: 0o400,
              items: [
                { key: 'token', path: 'sub/tok' },
                { key: 'config.json', path: 'c.json', mode: 0o440 },
              ],
            },
          },
        ],
        [{ name: 's', mountPath: '/s' }],
      ),
      [
        {
          name: 's',
          path: '/s',
          files: [
            { path: 'c.json', mode: 0o440, data: b64('{"a":1}') },
            { path: 'sub/tok', mode: 0o400, data: b64('hf_secret') },
          ],
        },
      ],
    ],
    [
      'a configMap with binary data, one file by subPath',
      pod(
        [{ name: 'c', configMap: { name: 'cfg' } }],
        [{ name: 'c', mountPath: '/opt/bin.dat', subPath: 'binary' }],
      ),
      [
        {
          name: 'c',
          path: '/opt/bin.dat',
          file: { mode: 0o644, data: Buffer.from([0, 255, 1]).toString('base64') },
        },
      ],
    ],
    [
      'downwardAPI: labels as key="value" lines, a name, a resource',
      pod(
        [
          {
            name: 'd',
            downwardAPI: {
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                {
                  path: 'mem',
                  resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' },
                },
              ],
            },
          },
        ],
        [{ name: 'd', mountPath: '/etc/podinfo' }],
      ),
      [
        {
          name: 'd',
          path: '/etc/podinfo',
          files: [
            { path: 'labels', mode: 0o644, data: b64('app="train"\ntier="gpu"') },
            { path: 'mem', mode: 0o644, data: b64('2048') },
            { path: 'name', mode: 0o644, data: b64('train') },
          ],
        },
      ],
    ],
    [
      'projected: sources merged under one defaultMode; an optional missing source skipped',
      pod(
        [
          {
            name: 'p',
            projected: {
              defaultMode: 0o440,
              sources: [
                { secret: { name: 'hf', items: [{ key: 'token', path: 'token' }] } },
                { configMap: { name: 'cfg', items: [{ key: 'mode.txt', path: 'mode' }] } },
                { secret: { name: 'absent', optional: true } },
              ],
            },
          },
        ],
        [{ name: 'p', mountPath: '/p' }],
      ),
      [
        {
          name: 'p',
          path: '/p',
          files: [
            { path: 'mode', mode: 0o440, data: b64('train') },
            { path: 'token', mode: 0o440, data: b64('hf_secret') },
          ],
        },
      ],
    ],
    [
      'emptyDir in memory with a size limit, shared by two mounts, one by subPath',
      pod(
        [{ name: 'e', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } }],
        [
          { name: 'e', mountPath: '/dev/shm/work' },
          { name: 'e', mountPath: '/cache', subPath: 'cache' },
        ],
      ),
      [
        { name: 'e', path: '/dev/shm/work', emptyDir: { medium: 'Memory', sizeLimitBytes: 2 ** 30 } },
        {
          name: 'e',
          path: '/cache',
          subPath: 'cache',
          emptyDir: { medium: 'Memory', sizeLimitBytes: 2 ** 30 },
        },
      ],
    ],
  ])('%s', async (_, spec, expected) => {
    expect(await resolve(spec)).toEqual({ ok: true, volumes: expected });
  });

  it.each<[string, V1PodSpec, string]>([
    [
      'a missing secret',
      pod([{ name: 's', secret: { secretName: 'nope' } }], [{ name: 's', mountPath: '/s' }]),
      'MountVolume.SetUp failed for volume "s" : secret "nope" not found',
    ],
    [
      'a missing configMap key',
      pod(
        [{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'absent', path: 'a' }] } }],
        [{ name: 'c', mountPath: '/c' }],
      ),
      'MountVolume.SetUp failed for volume "c" : configmap references non-existent config key: absent',
    ],
  ])('fails on %s, naming it (never a value)', async (_, spec, message) => {
    expect(await resolve(spec)).toEqual({ ok: false, message });
  });

  it('leaves the service-account volume out, and its mount', async () => {
    const spec: V1PodSpec = {
      containers: [
        {
          name: 'main',
          image: 'img',
          volumeMounts: [
            { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
        },
      ],
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: {
            sources: [
              { serviceAccountToken: { path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
          },
        },
      ],
    };
    expect(volumesOf(spec)).toEqual({ volumes: [], skipped: ['kube-api-access-abcde'] });
    expect(await resolve(spec)).toEqual({ ok: true, volumes: [] });
  });

  it('names the Secrets and ConfigMaps the volumes read', () => {
    const { volumes } = volumesOf({
      containers: [],
      volumes: [
        { name: 's', secret: { secretName: 'hf' } },
        { name: 'p', projected: { sources: [{ configMap: { name: 'cfg' } }, { secret: { name: 'hf' } }] } },
        { name: 'e', emptyDir: {} },
      ],
    });
    expect(volumeSources(volumes)).toEqual([
      { kind: 'Secret', name: 'hf' },
      { kind: 'ConfigMap', name: 'cfg' },
    ]);
  });
});
