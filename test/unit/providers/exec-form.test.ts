import { describe, expect, it } from 'vitest';
import type { AnexError } from '../../../lib/errors.ts';
import type { Offer } from '../../../lib/offers/offer.ts';
import { toCreateBody as runPodBody } from '../../../lib/providers/runpod/mapper.ts';
import { toCreateBody as vastBody } from '../../../lib/providers/vastai/mapper.ts';
import { aLaunch, aRegistryAuth, aTag } from './builders.ts';

/**
 * Kubernetes' command/args in each provider's exec form: `command` replaces the image
 * ENTRYPOINT, `args` replaces CMD, neither keeps the image's. Nothing is shell-quoted.
 * Vast: onstart is one executable path, args its argv (dstack api_client.py, vast-cli
 * create__instance; vast audit #1). RunPod: entrypoint/cmd arrays (docs create-a-pod.mdx at
 * 4962c60; runpod audit #1).
 */
const STUB = ['/bin/sh', '-c', 'set -u\ncase $x in *) exec "$f";;esac\necho "it\'s $HOME"\n'];

const runPodOffer = {
  provider: 'runpod',
  offerId: 'o',
  gpuName: 'RTX 4090',
  gpuCount: 1,
  pricePerHour: 1,
  gpuTypeId: 'NVIDIA GeForce RTX 4090',
  cloudType: 'SECURE',
  dataCenterId: 'EU-RO-1',
} as Offer;

describe('exec-form launch', () => {
  it.each([
    {
      name: 'the launch stub (command only)',
      launch: { command: STUB },
      vast: { onstart: '/bin/sh', args: STUB.slice(1) },
      runpod: { entrypoint: STUB },
    },
    {
      name: 'command and args',
      launch: { command: ['python', 'train.py'], args: ['--epochs', '3'] },
      vast: { onstart: 'python', args: ['train.py', '--epochs', '3'] },
      runpod: { entrypoint: ['python', 'train.py'], cmd: ['--epochs', '3'] },
    },
    {
      name: 'args only (the image ENTRYPOINT is kept)',
      launch: { args: ['--model', 'meta-llama/Llama-3-8B'] },
      vast: { args: ['--model', 'meta-llama/Llama-3-8B'] },
      runpod: { cmd: ['--model', 'meta-llama/Llama-3-8B'] },
    },
    { name: 'neither (image defaults)', launch: {}, vast: {}, runpod: {} },
  ])('$name', ({ launch, vast, runpod }) => {
    const spec = aLaunch(launch);
    const v = vastBody(spec, aTag());
    expect({ onstart: v.onstart, args: v.args }).toEqual({ onstart: undefined, args: undefined, ...vast });
    expect(v.runtype).toBe('args');
    const r = runPodBody(runPodOffer, spec, aTag());
    expect({ entrypoint: r.entrypoint, cmd: r.cmd, args: r.args }).toEqual({
      entrypoint: undefined,
      cmd: undefined,
      args: undefined,
      ...runpod,
    });
  });
});

describe('the registry login in the create body (issue #14 §3)', () => {
  const login = aRegistryAuth({ username: 'robot-7c1', password: 'tok-9f2', registry: 'ghcr.io' });

  it('Vast: image_login is docker login’s flags, "-u <user> -p <password> <registry>" (docs creating-instances-with-api; vast-cli --login)', () => {
    expect(vastBody(aLaunch({ registryAuth: login }), aTag()).image_login).toBe(
      '-u robot-7c1 -p tok-9f2 ghcr.io',
    );
  });

  it('Vast: the Hub is named as the image names it', () => {
    const hub = aRegistryAuth({ username: 'me', password: 'p', registry: 'docker.io' });
    expect(vastBody(aLaunch({ registryAuth: hub }), aTag()).image_login).toBe('-u me -p p docker.io');
  });

  it.each([
    ['white space in the password', { password: 'two words' }],
    ['white space in the user', { username: 'me too' }],
    ['an empty user', { username: '' }],
  ])('Vast: refuses a login image_login cannot carry (%s), naming the Secret, never the values', (_, bad) => {
    const auth = aRegistryAuth({ ...bad, secret: 'regcred' });
    const failure = (() => {
      try {
        vastBody(aLaunch({ registryAuth: auth }), aTag());
        return undefined;
      } catch (error) {
        return error as AnexError;
      }
    })();
    expect(failure?.kind).toBe('invalid-input');
    expect(failure?.message).toContain('imagePullSecret "regcred"');
    expect(failure?.message).not.toContain(auth.password);
  });

  it('RunPod: `registry` is the credential id the provider made (ContainerConfig.registry), never the login', () => {
    const body = runPodBody(runPodOffer, aLaunch({ registryAuth: login }), aTag(), 'reg_abc');
    expect(body.registry).toBe('reg_abc');
    expect(JSON.stringify(body)).not.toContain(login.password);
    expect(JSON.stringify(body)).not.toContain(login.username);
  });

  it('neither provider sends a login for a public image', () => {
    expect(vastBody(aLaunch({}), aTag())).not.toHaveProperty('image_login');
    expect(runPodBody(runPodOffer, aLaunch({}), aTag())).not.toHaveProperty('registry');
  });
});
