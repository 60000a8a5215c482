import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../lib/images/client.ts';
import { resolveCommand } from '../../../lib/images/gate.ts';
import type { RegistryAuth } from '../../../lib/images/keyring.ts';
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

describe('private images: a login from the pod’s imagePullSecrets (issue #14 §3)', () => {
  const BEARER = 'ghcr.io/example/private-trainer:1';
  const BASIC = 'registry.example.com/team/private-basic:1';
  const login = (registryHost: string, password: string = PRIVATE_IMAGE_LOGIN.password): RegistryAuth => ({
    registry: registryHost,
    username: PRIVATE_IMAGE_LOGIN.username,
    password,
    secret: password === PRIVATE_IMAGE_LOGIN.password ? 'regcred' : 'wrongcred',
    identity: `ml/${password === PRIVATE_IMAGE_LOGIN.password ? 'regcred' : 'wrongcred'}@u:1#${registryHost}`,
  });
  const lookupWith = (client: RegistryClient, image: string, auth?: RegistryAuth) => {
    const ref = parseImageRef(image);
    if ('error' in ref) throw new Error(ref.error);
    return client.lookup(ref, 'amd64', undefined, auth);
  };

  it.each([
    ['the Docker token flow (Bearer realm/service/scope)', BEARER, 'ghcr.io', ['python', 'train.py']],
    ['Basic auth on every request', BASIC, 'registry.example.com', ['python', 'serve.py']],
  ])('reads the config with the right login: %s', async (_how, image, host, cmd) => {
    const found = await lookupWith(new RegistryClient({ mirror: registry.url }), image, login(host));
    expect(found).toMatchObject({ outcome: 'ok', config: { cmd } });
  });

  it.each([
    ['Bearer, without a login', BEARER, undefined],
    ['Bearer, with a wrong password', BEARER, login('ghcr.io', 'wrong')],
    ['Basic, without a login', BASIC, undefined],
    ['Basic, with a wrong password', BASIC, login('registry.example.com', 'wrong')],
  ])('is denied (401), not missing: %s', async (_what, image, auth) => {
    const found = await lookupWith(new RegistryClient({ mirror: registry.url }), image, auth);
    expect(found).toMatchObject({ outcome: 'not-found', denied: true });
    expect('message' in found ? found.message : '').toBe(
      `failed to pull image "${image}": pull access denied, repository does not exist or may require authorization`,
    );
  });

  it('keeps one login’s token or Basic grant from serving a lookup without it, or with another', async () => {
    const client = new RegistryClient({ mirror: registry.url });
    for (const [image, host] of [
      [BEARER, 'ghcr.io'],
      [BASIC, 'registry.example.com'],
    ] as const) {
      expect((await lookupWith(client, image, login(host))).outcome).toBe('ok');
      expect((await lookupWith(client, image)).outcome).toBe('not-found');
      expect((await lookupWith(client, image, login(host, 'wrong'))).outcome).toBe('not-found');
      expect((await lookupWith(client, image, login(host))).outcome).toBe('ok');
    }
  });

  it.each([
    [
      'no login',
      [],
      'no imagePullSecret of the pod holds a login for ghcr.io (imagePullSecrets missing or wrong?)',
    ],
    [
      'a wrong login',
      [login('ghcr.io', 'wrong')],
      'ghcr.io refused the login from imagePullSecret "wrongcred" (imagePullSecrets wrong?)',
    ],
  ])('the gate refuses with ErrImagePull, naming the image and why: %s', async (_what, auths, why) => {
    const client = new RegistryClient({ mirror: registry.url });
    const resolved = await resolveCommand(client, { image: BEARER }, { arch: 'amd64', auths });
    expect(resolved).toEqual({
      outcome: 'refused',
      reason: 'ErrImagePull',
      message: `failed to pull image "${BEARER}": pull access denied, repository does not exist or may require authorization: ${why}`,
    });
    expect(JSON.stringify(resolved)).not.toContain(PRIVATE_IMAGE_LOGIN.password);
  });

  it('tries each login in the kubelet’s order and names the one the registry took', async () => {
    const client = new RegistryClient({ mirror: registry.url });
    const right = login('ghcr.io');
    const resolved = await resolveCommand(
      client,
      { image: BEARER },
      { arch: 'amd64', auths: [login('ghcr.io', 'wrong'), right, login('quay.io')] },
    );
    expect(resolved).toMatchObject({ outcome: 'ok', argv: ['python', 'train.py'], auth: right });
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
