import type { V1Container } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace } from '../../support/index.ts';
import { liveInstances, type ReconcileGround, startGround } from './ground.ts';
import { aGpuPod, deleteAndDrain, eventLines, passUntil, passUntilPhase } from './pods.ts';

// The first real rental, end to end on both providers: the launch each provider is sent (its
// exec form of the stub), what the simulated machine's runtime starts from it and the image,
// the real stub fetching the real agent, and the agent running the container's command with
// Kubernetes' semantics over the image config read from the registry before renting.

type Case = {
  what: string;
  image: string;
  /** replaces the fixture's command and args; `command: null` removes the command */
  container: { command?: string[] | null; args?: string[] };
  /** what the machine's log shows once the pod is Running */
  says: string;
};

const CASES: Case[] = [
  {
    what: 'an image whose ENTRYPOINT does not run its arguments (vLLM), command given',
    image: 'vllm/vllm-openai:latest',
    container: { command: ['python3', '-m', 'vllm.entrypoints.openai.api_server'], args: ['--model', 'm'] },
    says: 'python3 (simulated) started: -m vllm.entrypoints.openai.api_server --model m',
  },
  {
    what: 'an args-only pod: the image ENTRYPOINT kept, CMD replaced',
    image: 'vllm/vllm-openai:latest',
    container: { command: null, args: ['--model', 'tiny'] },
    says: 'python3 (simulated) started: -m vllm.entrypoints.openai.api_server --model tiny',
  },
  {
    what: 'an args-only pod whose ENTRYPOINT is an absolute path in the image (CUDA)',
    image: 'nvidia/cuda:12.4.1-runtime-ubuntu22.04',
    container: {
      command: null,
      args: ['/bin/sh', '-c', 'echo "the CUDA entrypoint ran: $0"; exec sleep 600', 'me'],
    },
    says: 'the CUDA entrypoint ran: me',
  },
  {
    what: 'neither command nor args: the image ENTRYPOINT and CMD',
    image: 'ghcr.io/example/trainer:1',
    container: { command: null },
    says: 'python (simulated) started: train.py',
  },
];

describe.each(['vastai', 'runpod'] as const)('the launch on %s', (provider) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider, { offers: 200 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it.each(CASES)('runs $what', async ({ image, container, says }) => {
    const ns = await createTestNamespace('e2e-launch');
    const pod = aGpuPod(ground, 'launch', { image, restartPolicy: 'Always' });
    const main = pod.spec?.containers[0] as V1Container;
    if (container.command === null) delete main.command;
    else if (container.command !== undefined) main.command = container.command;
    if (container.args !== undefined) main.args = container.args;
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    await passUntilPhase(ground, ns, 'launch', 'Running');
    const machine = [...ground.agents.runner.machines().values()][0];
    const log = machine?.log() ?? '';
    expect(log).toMatch(new RegExp(`anex-agent: agent \\d+ bootstrapped pod ${created.metadata?.uid}`));
    expect(log).toContain(says);
    await deleteAndDrain(ground, ns);
    await ground.agents.play();
    expect(ground.agents.runner.liveProcesses()).toEqual([]);
  });
});

describe.each(['vastai', 'runpod'] as const)('images refused before renting on %s', (provider) => {
  let ground: ReconcileGround;
  beforeAll(async () => {
    ground = await startGround(provider, { offers: 100 });
  });
  afterAll(async () => {
    await ground?.stop();
  });

  it.each([
    { image: 'ghcr.io/example/does-not-exist:1', reason: 'ErrImagePull', says: 'manifest unknown' },
    { image: 'ghcr.io/example/arm-only:1', reason: 'ErrImagePull', says: 'has no linux/amd64 variant' },
    {
      image: 'ghcr.io/example/no-command:1',
      reason: 'CreateContainerError',
      says: 'has no ENTRYPOINT or CMD',
    },
  ])('$image: $reason, an event naming it, no create sent', async ({ image, reason, says }) => {
    const ns = await createTestNamespace('e2e-refused');
    const pod = aGpuPod(ground, 'refused', { image });
    const main = pod.spec?.containers[0] as V1Container;
    if (image.endsWith('no-command:1')) delete main.command;
    const created = await ns.core.createNamespacedPod({ namespace: ns.name, body: pod });
    const creates = ground.sim.requestCount('create');
    const waiting = await passUntil(ground, ns, 'refused', {
      what: `waiting with ${reason}`,
      check: (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason,
    });
    expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain(image);
    const said = await eventLines(ns.core, ns.name, created.metadata?.uid as string);
    expect(
      said.some((line) => line.startsWith('Failed:') && line.includes(image) && line.includes(says)),
    ).toBe(true);
    await ground.pass();
    expect(ground.sim.requestCount('create')).toBe(creates);
    expect(liveInstances(ground)).toEqual([]);
    await deleteAndDrain(ground, ns);
  });
});
