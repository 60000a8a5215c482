import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../lib/images/client.ts';
import { resolveCommand } from '../../../lib/images/gate.ts';
import type { RegistryAuth } from '../../../lib/images/pull-secrets.ts';
import { parseImageRef } from '../../../lib/images/reference.ts';
import { PRIVATE_IMAGE_LOGIN } from '../../../lib/sim/common/images.ts';
import { type SimRegistry, startSimRegistry } from '../../../lib/sim/registry/sim-registry.ts';

/**
 * lib/images against a real OCI distribution server (go-containerregistry's pkg/registry, run
 * by lib/sim/registry with the simulated marketplace's images): indexes narrowed to a
 * platform, single-arch manifests, missing images and platforms, Kubernetes command rules over
 * the image's ENTRYPOINT/CMD — and the anonymous Bearer token flow, through a token-checking
 * front in this test.
 */

let registry: SimRegistry;
beforeAll(async () => {
  registry = await startSimRegistry();
}, 300_000);
afterAll(async () => {
  await registry?.stop();
});

const lookup = (image: string, arch: 'amd64' | 'arm64' = 'amd64') => {
  const ref = parseImageRef(image);
  if ('error' in ref) throw new Error(ref.error);
  return new RegistryClient({ mirror: registry.url }).lookup(ref, arch);
};

describe('reading image configs from a registry', () => {
  it.each([
    ['an index, amd64', 'pytorch/pytorch:latest', 'amd64', { entrypoint: [], workingDir: '/workspace' }],
    ['an index, arm64', 'ollama/ollama', 'arm64', { entrypoint: ['/bin/ollama'], cmd: ['serve'] }],
    [
      'a single-arch manifest',
      'ghcr.io/example/trainer:1',
      'amd64',
      { cmd: ['python', 'train.py'], workingDir: '/app' },
    ],
    [
      'an ENTRYPOINT that ignores its arguments',
      'vllm/vllm-openai:latest',
      'amd64',
      { entrypoint: ['python3', '-m', 'vllm.entrypoints.openai.api_server'] },
    ],
  ] as const)('%s: %s', async (_label, image, arch, expected) => {
    const found = await lookup(image, arch);
    expect(found.outcome).toBe('ok');
    if (found.outcome === 'ok') {
      expect(found.config).toMatchObject(expected);
      expect(found.config.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  it.each([
    [
      'a name nobody published',
      'ghcr.io/example/does-not-exist:1',
      'not-found',
      'failed to pull image "ghcr.io/example/does-not-exist:1": manifest unknown',
    ],
    ['a tag that does not exist', 'pytorch/pytorch:no-such-tag', 'not-found', 'manifest unknown'],
    [
      'an arm64-only tag on amd64',
      'ghcr.io/example/arm-only:1',
      'no-platform',
      'has no linux/amd64 variant (it has: linux/arm64)',
    ],
  ] as const)('%s: %s', async (_label, image, outcome, message) => {
    const found = await lookup(image);
    expect(found.outcome).toBe(outcome);
    expect('message' in found ? found.message : '').toContain(message);
  });

  it('says unavailable (retry), not missing, when the registry cannot be reached', async () => {
    const ref = parseImageRef('pytorch/pytorch') as Exclude<
      ReturnType<typeof parseImageRef>,
      { error: string }
    >;
    const found = await new RegistryClient({ mirror: 'http://127.0.0.1:9', timeoutMs: 2_000 }).lookup(
      ref,
      'amd64',
    );
    expect(found.outcome).toBe('unavailable');
  });
});

describe('a private image: the Docker token flow with the pod’s imagePullSecret (issue #14 §3)', () => {
  const PRIVATE = 'ghcr.io/example/private-trainer:1';
  const privateLookup = (auth?: RegistryAuth) => {
    const ref = parseImageRef(PRIVATE);
    if ('error' in ref) throw new Error(ref.error);
    return new RegistryClient({ mirror: registry.url }).lookup(ref, 'amd64', undefined, auth);
  };

  it('reads the config with the right login', async () => {
    const found = await privateLookup({ registry: 'ghcr.io', ...PRIVATE_IMAGE_LOGIN });
    expect(found).toMatchObject({ outcome: 'ok', config: { cmd: ['python', 'train.py'] } });
  });

  it.each([
    ['without a login', undefined, '(the pod has no imagePullSecrets for this registry)'],
    [
      'with a wrong password',
      { registry: 'ghcr.io', username: PRIVATE_IMAGE_LOGIN.username, password: 'wrong' },
      "(the credentials from the pod's imagePullSecrets were refused)",
    ],
  ])('refuses %s in kubelet’s words, saying why', async (_what, auth, why) => {
    const found = await privateLookup(auth);
    expect(found.outcome).toBe('not-found');
    const message = 'message' in found ? found.message : '';
    expect(message).toContain(
      `failed to pull image "${PRIVATE}": pull access denied, repository does not exist or may require authorization ${why}`,
    );
    expect(message).not.toContain(PRIVATE_IMAGE_LOGIN.password);
  });

  it('keeps one login’s token from serving a lookup without it', async () => {
    const ref = parseImageRef(PRIVATE);
    if ('error' in ref) throw new Error(ref.error);
    const client = new RegistryClient({ mirror: registry.url });
    expect(
      (await client.lookup(ref, 'amd64', undefined, { registry: 'ghcr.io', ...PRIVATE_IMAGE_LOGIN })).outcome,
    ).toBe('ok');
    expect((await client.lookup(ref, 'amd64')).outcome).toBe('not-found');
  });
});

describe('the container’s effective command (what the agent runs)', () => {
  const client = () => new RegistryClient({ mirror: registry.url });
  it.each([
    [
      'command given',
      { image: 'pytorch/pytorch:latest', command: ['python', 'train.py'] },
      { outcome: 'ok', argv: ['python', 'train.py'] },
    ],
    [
      'args only: the image ENTRYPOINT kept',
      { image: 'nvidia/cuda:12.4.1-runtime-ubuntu22.04', args: ['nvidia-smi'] },
      { outcome: 'ok', argv: ['/opt/nvidia/nvidia_entrypoint.sh', 'nvidia-smi'] },
    ],
    [
      'neither: ENTRYPOINT + CMD',
      { image: 'ollama/ollama:latest' },
      { outcome: 'ok', argv: ['/bin/ollama', 'serve'] },
    ],
    [
      'nothing to run',
      { image: 'ghcr.io/example/no-command:1' },
      { outcome: 'refused', reason: 'CreateContainerError' },
    ],
    ['an invalid name', { image: 'Not A Name' }, { outcome: 'refused', reason: 'InvalidImageName' }],
    ['a missing image', { image: 'ghcr.io/example/gone:1' }, { outcome: 'refused', reason: 'ErrImagePull' }],
  ] as const)('%s', async (_label, container, expected) => {
    expect(await resolveCommand(client(), container, { arch: 'amd64' })).toMatchObject(expected);
  });
});

describe('anonymous Bearer tokens (the Docker token flow of Docker Hub and GHCR)', () => {
  let front: Server;
  let frontUrl = '';
  const seen: string[] = [];
  beforeAll(async () => {
    // A token-checking front: 401 with a challenge until the request carries the token it issues.
    front = createServer((req, res) => {
      const url = req.url ?? '/';
      seen.push(`${req.method} ${url.split('?')[0]}`);
      if (url.startsWith('/token')) {
        const scope = new URL(url, 'http://x').searchParams.get('scope');
        res.writeHead(scope?.endsWith(':pull') ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: 'anon-token' }));
        return;
      }
      if (req.headers.authorization !== 'Bearer anon-token') {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${frontUrl}/token",service="sim",scope="repository:x:pull"`,
        });
        res.end();
        return;
      }
      void fetch(`${registry.url}${url}`, { headers: { accept: String(req.headers.accept ?? '*/*') } }).then(
        async (upstream) => {
          const headers: Record<string, string> = {};
          upstream.headers.forEach((value, key) => {
            if (key !== 'content-length' && key !== 'transfer-encoding') headers[key] = value;
          });
          res.writeHead(upstream.status, headers);
          res.end(Buffer.from(await upstream.arrayBuffer()));
        },
      );
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const address = front.address();
    frontUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => front.close(() => resolve())));

  it('answers the challenge with a token from its realm, then reads the config', async () => {
    const ref = parseImageRef('ghcr.io/example/trainer:1') as Exclude<
      ReturnType<typeof parseImageRef>,
      { error: string }
    >;
    const found = await new RegistryClient({ mirror: frontUrl }).lookup(ref, 'amd64');
    expect(found.outcome).toBe('ok');
    expect(seen).toContain('GET /token');
    expect(seen.filter((s) => s === 'GET /token')).toHaveLength(1);
  });
});
