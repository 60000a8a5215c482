import type { V1PodSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isServiceAccountVolume, unsupportedPodSpec } from '../../../lib/kube/pod-spec-support.ts';

// issue #14 §6: what a rented machine cannot honour is refused, naming the field; what it can
// (one app container, same-image init containers and sidecars, secret/configMap/downwardAPI/
// projected/emptyDir volumes, the service-account volume the API server adds) passes.

const main = { name: 'main', image: 'pytorch/pytorch:2' };
const spec = (extra: Partial<V1PodSpec>): V1PodSpec => ({ containers: [main], ...extra });
const saVolume = {
  name: 'kube-api-access-x7k2p',
  projected: {
    sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
    ],
  },
};

describe('unsupportedPodSpec', () => {
  it.each<[string, V1PodSpec, string[]]>([
    ['one container', spec({}), []],
    [
      'two app containers',
      { containers: [main, { name: 'side', image: 'envoy' }] },
      ['spec.containers: anex runs exactly one app container per pod'],
    ],
    ['hostNetwork', spec({ hostNetwork: true }), ['spec.hostNetwork: the pod runs on a rented machine']],
    ['hostPID', spec({ hostPID: true }), ['spec.hostPID:']],
    ['hostIPC', spec({ hostIPC: true }), ['spec.hostIPC:']],
    [
      'an ephemeral container (kubectl debug)',
      spec({ ephemeralContainers: [{ name: 'debugger', image: 'busybox' }] }),
      ['spec.ephemeralContainers: kubectl debug cannot add a container'],
    ],
    [
      'an init container with another image',
      spec({ initContainers: [{ name: 'fetch', image: 'curlimages/curl' }] }),
      [
        'spec.initContainers[fetch]: image "curlimages/curl" differs from the app container\'s "pytorch/pytorch:2"',
      ],
    ],
    [
      'a same-image init container and sidecar',
      spec({
        initContainers: [
          { ...main, name: 'prep' },
          { ...main, name: 'side', restartPolicy: 'Always' },
        ],
      }),
      [],
    ],
    [
      'a PVC',
      spec({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] }),
      ['spec.volumes[data]: persistentVolumeClaim volumes cannot be attached to a rented machine'],
    ],
    [
      'a hostPath',
      spec({ volumes: [{ name: 'h', hostPath: { path: '/var' } }] }),
      ['spec.volumes[h]: hostPath volumes'],
    ],
    [
      'an nfs volume',
      spec({ volumes: [{ name: 'n', nfs: { server: 's', path: '/' } }] }),
      ['spec.volumes[n]: nfs volumes'],
    ],
    [
      'supported volumes',
      spec({
        volumes: [
          { name: 's', secret: { secretName: 'hf' } },
          { name: 'c', configMap: { name: 'cfg' } },
          {
            name: 'd',
            downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
          },
          { name: 'p', projected: { sources: [{ secret: { name: 'hf' } }, { configMap: { name: 'cfg' } }] } },
          { name: 'e', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
          saVolume,
        ],
      }),
      [],
    ],
    [
      'emptyDir on hugepages',
      spec({ volumes: [{ name: 'e', emptyDir: { medium: 'HugePages' } }] }),
      ['emptyDir.medium "HugePages"'],
    ],
    [
      'a projected token the user asked for',
      spec({
        volumes: [
          {
            name: 'vault',
            projected: { sources: [{ serviceAccountToken: { path: 't', audience: 'vault' } }] },
          },
        ],
      }),
      ['spec.volumes[vault]: a projected serviceAccountToken is not given to a rented machine'],
    ],
    [
      'subPathExpr and mount propagation',
      spec({
        containers: [
          {
            ...main,
            volumeMounts: [
              { name: 'e', mountPath: '/x', subPathExpr: '$(POD)' },
              { name: 'e', mountPath: '/y', mountPropagation: 'Bidirectional' },
            ],
          },
        ],
        volumes: [{ name: 'e', emptyDir: {} }],
      }),
      ['volumeMounts[e].subPathExpr: not supported', 'volumeMounts[e].mountPropagation: "Bidirectional"'],
    ],
    [
      'a block device',
      spec({ containers: [{ ...main, volumeDevices: [{ name: 'b', devicePath: '/dev/xvda' }] }] }),
      ['spec.containers[main].volumeDevices'],
    ],
    [
      'privileged',
      spec({ containers: [{ ...main, securityContext: { privileged: true } }] }),
      ['securityContext.privileged'],
    ],
    [
      'a hostPort',
      spec({ containers: [{ ...main, ports: [{ containerPort: 80, hostPort: 8080 }] }] }),
      ['ports[80].hostPort'],
    ],
    ['windows', spec({ os: { name: 'windows' } }), ['spec.os.name: "windows"']],
  ])('%s', (_, podSpec, expected) => {
    const issues = unsupportedPodSpec(podSpec);
    expect(issues).toHaveLength(expected.length);
    for (const [i, fragment] of expected.entries()) expect(issues[i]).toContain(fragment);
  });
});

describe('isServiceAccountVolume', () => {
  it.each([
    ['the API server’s kube-api-access volume', saVolume, true],
    [
      'a projected volume of the user’s, with a token',
      { name: 'vault', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } },
      false,
    ],
    [
      'a kube-api-access name with another source',
      {
        name: 'kube-api-access-abcde',
        projected: { sources: [{ serviceAccountToken: { path: 't' } }, { secret: { name: 'x' } }] },
      },
      false,
    ],
    ['a secret volume', { name: 'kube-api-access-abcde', secret: { secretName: 'x' } }, false],
  ])('%s: %s', (_, volume, expected) => {
    expect(isServiceAccountVolume(volume)).toBe(expected);
  });
});
