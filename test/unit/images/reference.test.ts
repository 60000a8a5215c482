import { describe, expect, it } from 'vitest';
import { parseBearer } from '../../../lib/images/client.ts';
import { effectiveCommand } from '../../../lib/images/config.ts';
import { formatImageRef, parseImageRef } from '../../../lib/images/reference.ts';

describe('image references (Docker and kubelet rules)', () => {
  it.each([
    ['ubuntu', 'docker.io/library/ubuntu:latest'],
    ['pytorch/pytorch', 'docker.io/pytorch/pytorch:latest'],
    [
      'pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime',
      'docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime',
    ],
    ['ghcr.io/example/trainer:1', 'ghcr.io/example/trainer:1'],
    ['localhost:5000/team/job', 'localhost:5000/team/job:latest'],
    ['nvcr.io/nvidia/pytorch:24.05-py3', 'nvcr.io/nvidia/pytorch:24.05-py3'],
    [`ubuntu@sha256:${'a'.repeat(64)}`, `docker.io/library/ubuntu@sha256:${'a'.repeat(64)}`],
  ])('%s → %s', (text, expected) => {
    const ref = parseImageRef(text);
    if ('error' in ref) throw new Error(ref.error);
    expect(formatImageRef(ref)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    [' ubuntu', 'empty or surrounded by spaces'],
    ['Ubuntu', 'lower-case'],
    ['ubuntu:bad tag', 'the tag "bad tag" is not valid'],
    ['ubuntu@sha256:xyz', 'the digest is not sha256:<64 hex>'],
    ['ghcr.io/', 'lower-case'],
  ])('refuses %j, naming what is wrong and the accepted form', (text, why) => {
    const ref = parseImageRef(text);
    expect(ref).toHaveProperty('error');
    const { error } = ref as { error: string };
    expect(error).toContain(why);
    expect(error).toContain('expected [registry/]name[:tag][@sha256:<digest>]');
  });
});

describe('Kubernetes command semantics over the image config', () => {
  const image = { entrypoint: ['/entry.sh'], cmd: ['serve', '--port', '80'], workingDir: '/app' };
  it.each([
    ['neither: the image defaults', {}, ['/entry.sh', 'serve', '--port', '80'], '/app'],
    ['command only: replaces ENTRYPOINT and drops CMD', { command: ['python'] }, ['python'], '/app'],
    ['args only: ENTRYPOINT kept, CMD replaced', { args: ['train'] }, ['/entry.sh', 'train'], '/app'],
    ['both', { command: ['python'], args: ['x.py'] }, ['python', 'x.py'], '/app'],
    [
      'workingDir replaces the image one',
      { workingDir: '/data' },
      ['/entry.sh', 'serve', '--port', '80'],
      '/data',
    ],
    ['empty lists count as unset', { command: [], args: [] }, ['/entry.sh', 'serve', '--port', '80'], '/app'],
  ])('%s', (_label, container, argv, workingDir) => {
    expect(effectiveCommand(container, image)).toEqual({ argv, workingDir });
  });

  it('has nothing to run for an image without ENTRYPOINT and CMD and a container without command', () => {
    expect(effectiveCommand({}, { entrypoint: [], cmd: [] }).argv).toEqual([]);
  });
});

describe('registry auth challenge', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/ubuntu:pull',
      },
    ],
    ['Basic realm="x"', undefined],
  ])('%s', (header, expected) => {
    expect(parseBearer(header)).toEqual(expected);
  });
});
