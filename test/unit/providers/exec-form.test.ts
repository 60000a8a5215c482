import { describe, expect, it } from 'vitest';
import type { Offer } from '../../../lib/offers/offer.ts';
import { toCreateBody as runPodBody } from '../../../lib/providers/runpod/mapper.ts';
import { toCreateBody as vastBody } from '../../../lib/providers/vastai/mapper.ts';
import { aLaunch, aTag } from './builders.ts';

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

describe('registry login (issue #14 §3)', () => {
  it('Vast: image_login is docker login’s flags, "-u user -p token registry" (docs creating-instances-with-api)', () => {
    const body = vastBody(
      aLaunch({
        registryAuth: { registry: 'ghcr.io', username: 'me', password: 'tok', secret: 's', identity: 'i' },
      }),
      aTag(),
    );
    expect(body.image_login).toBe('-u me -p tok ghcr.io');
  });

  it('Vast: no image_login without a login', () => {
    expect(vastBody(aLaunch({}), aTag())).not.toHaveProperty('image_login');
  });
});
