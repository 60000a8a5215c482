import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { plainModeReason } from '../../../lib/sim/machines/machine.ts';
import { MachineRunner } from '../../../lib/sim/machines/runner.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { eventually } from '../../support/eventually.ts';
import { manualClock } from '../../unit/providers/builders.ts';
import { useSim } from '../../unit/providers/sim-lifecycle.ts';

/**
 * Simulated machines really run (lib/sim/machines): what the provider's runtime would start
 * from the create request and the image (Docker's ENTRYPOINT/CMD rules) runs as a process
 * tree on this host, in the machine's own directory; its exit reaches the simulator, which
 * reacts as the provider does; a destroyed instance leaves no process behind.
 */

const KEY = { authorization: 'Bearer machines-test', 'content-type': 'application/json' };

const vastClock = manualClock();
const vast = new VastAiSim({
  seed: 7,
  offers: 40,
  now: vastClock.now,
  timings: { provisionMs: 5, loadingMs: 5 },
});
const vastState = useSim(vast);
const podClock = manualClock();
const runpod = new RunPodSim({ seed: 7, now: podClock.now });
const podState = useSim(runpod);

const runners: MachineRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

function runner(): MachineRunner {
  const r = new MachineRunner({ hosts: { vastai: vast, runpod }, restartDelayMs: 50 });
  runners.push(r);
  return r;
}

async function vastCreate(body: Record<string, unknown>): Promise<string> {
  const search = await fetch(`${vastState.url}/api/v0/bundles/`, {
    method: 'POST',
    headers: KEY,
    body: JSON.stringify({ rentable: { eq: true }, limit: 1 }),
  });
  const { offers } = (await search.json()) as { offers: { id: number }[] };
  const response = await fetch(`${vastState.url}/api/v0/asks/${offers[0]?.id}/`, {
    method: 'PUT',
    headers: KEY,
    body: JSON.stringify({ disk: 20, runtype: 'args', ...body }),
  });
  expect(response.status).toBe(200);
  const created = (await response.json()) as { new_contract: number };
  vastClock.advance(60_000);
  return String(created.new_contract);
}

async function vastDestroy(id: string): Promise<void> {
  await fetch(`${vastState.url}/api/v0/instances/${id}/`, { method: 'DELETE', headers: KEY });
}

async function podCreate(body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${podState.url}/v2/pods`, {
    method: 'POST',
    headers: KEY,
    body: JSON.stringify({
      name: 'machines-test',
      gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1 },
      cloud: 'SECURE',
      ...body,
    }),
  });
  expect(response.status).toBe(201);
  podClock.advance(10 * 60_000);
  return String(((await response.json()) as { id: string }).id);
}

async function podDestroy(id: string): Promise<void> {
  await fetch(`${podState.url}/v2/pods/${id}`, { method: 'DELETE', headers: KEY });
}

/** The machine of `key` once its log has `text`. */
async function logOf(r: MachineRunner, key: string, text: string): Promise<string> {
  return eventually(
    async () => {
      await r.sync();
      const log = r.machines().get(key)?.log() ?? '';
      return log.includes(text) ? log : undefined;
    },
    { what: `${key} printing ${JSON.stringify(text)}`, timeoutMs: 15_000, intervalMs: 50 },
  );
}

describe('what a simulated machine runs (the provider exec forms, Docker rules)', () => {
  it.each([
    {
      what: 'Vast args runtype: onstart is the exec path verbatim, args its argv (vast audit #1)',
      create: () =>
        vastCreate({
          image: 'ghcr.io/example/trainer:1',
          onstart: '/bin/sh',
          args: ['-c', 'echo "sh ran: $0 $1"; exec python train.py', 'x'],
        }),
      host: 'vastai',
      says: ['sh ran: x', 'python (simulated) started: train.py'],
      destroy: vastDestroy,
    },
    {
      what: 'Vast with no onstart keeps the image ENTRYPOINT and CMD (an args-only pod on the CUDA image)',
      create: () =>
        vastCreate({
          image: 'nvidia/cuda:12.4.1-runtime-ubuntu22.04',
          args: ['/bin/sh', '-c', 'echo "the CUDA entrypoint ran my args"; exec sleep 300'],
        }),
      host: 'vastai',
      says: ['the CUDA entrypoint ran my args'],
      destroy: vastDestroy,
    },
    {
      what: 'RunPod entrypoint/cmd arrays replace ENTRYPOINT and CMD (create-a-pod.mdx at 4962c60)',
      create: () =>
        podCreate({
          image: 'vllm/vllm-openai:latest',
          entrypoint: ['/bin/sh', '-c', 'echo "from the stub: $0"', 'y'],
        }),
      host: 'runpod',
      says: ['from the stub: y'],
      destroy: podDestroy,
    },
    {
      what: 'RunPod args on an ENTRYPOINT that does not run them (vLLM): the server runs, the script never does (runpod audit #1)',
      create: () => podCreate({ image: 'vllm/vllm-openai:latest', args: "/bin/sh -c 'echo never'" }),
      host: 'runpod',
      says: ['python3 (simulated) started: -m vllm.entrypoints.openai.api_server /bin/sh -c'],
      destroy: podDestroy,
    },
  ])('$what', async ({ create, host, says, destroy }) => {
    const r = runner();
    const id = await create();
    const log = await logOf(r, `${host}/${id}`, says.at(-1) ?? '');
    for (const line of says) expect(log).toContain(line);
    expect(log).not.toMatch(/^never$/m);
    await destroy(id);
    await r.sync();
    expect(r.machines().size).toBe(0);
    expect(r.liveProcesses()).toEqual([]);
  });
});

describe('what happens when the container exits', () => {
  it.each([0, 3])(
    'Vast: the instance goes exited after an exit with %i and nothing restarts it (vast audit #7)',
    async (code) => {
      const r = runner();
      const id = await vastCreate({
        image: 'ghcr.io/example/trainer:1',
        onstart: '/bin/sh',
        args: ['-c', `echo done; exit ${code}`],
      });
      await r.sync();
      await eventually(async () => (r.machines().size === 0 ? true : undefined), {
        what: 'the container ended',
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      const response = await fetch(`${vastState.url}/api/v0/instances/${id}/`, { headers: KEY });
      const { instances } = (await response.json()) as { instances: Record<string, unknown> };
      expect(instances.actual_status).toBe('exited');
      await r.sync();
      expect(r.machines().size).toBe(0);
      await vastDestroy(id);
    },
  );

  it('RunPod: the container is restarted, RUNNING, uptime reset (runpod audit #7, measured on a real pod)', async () => {
    const r = runner();
    const id = await podCreate({
      image: 'ghcr.io/example/trainer:1',
      entrypoint: ['/bin/sh', '-c', 'echo run; exit 1'],
    });
    await eventually(
      async () => {
        await r.sync();
        return runpod.containerRestarts(id) >= 2 ? true : undefined;
      },
      { what: 'two restarts', timeoutMs: 15_000, intervalMs: 50 },
    );
    const pod = (await (await fetch(`${podState.url}/v2/pods/${id}`, { headers: KEY })).json()) as Record<
      string,
      unknown
    >;
    expect(pod.status).toBe('RUNNING');
    await podDestroy(id);
    await r.sync();
    expect(r.liveProcesses()).toEqual([]);
  });

  it('RunPod: a restarted container keeps its filesystem, only its processes are new (Docker restarts the same container)', async () => {
    const r = runner();
    const id = await podCreate({
      image: 'ghcr.io/example/trainer:1',
      entrypoint: [
        '/bin/sh',
        '-c',
        'f=${TMPDIR:-/tmp}/starts; echo x >> "$f"; echo "start $(cat "$f" | wc -l)"; exit 1',
      ],
    });
    await eventually(
      async () => {
        await r.sync();
        return runpod.containerRestarts(id) >= 2 ? true : undefined;
      },
      { what: 'two restarts', timeoutMs: 15_000, intervalMs: 50 },
    );
    await eventually(async () => (r.machines().size === 1 ? true : undefined), {
      what: 'the container running again',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const log = [...r.machines().values()][0]?.log() ?? '';
    expect(log).toMatch(/start 1\s+start 2/);
    await podDestroy(id);
    await r.sync();
    expect(r.liveProcesses()).toEqual([]);
  });
});

describe('stopping a machine', () => {
  it('ends every process of it, also one its parent left behind', async () => {
    const r = runner();
    // A child left behind by its parent shell, as a workload's helpers may be.
    const id = await vastCreate({
      image: 'ghcr.io/example/trainer:1',
      onstart: '/bin/sh',
      args: ['-c', '(python long.py &) ; echo forked; exec sleep 300'],
    });
    await logOf(r, `vastai/${id}`, 'python (simulated) started: long.py');
    expect(r.liveProcesses().length).toBeGreaterThanOrEqual(2);
    await vastDestroy(id);
    await r.sync();
    expect(r.liveProcesses()).toEqual([]);
  });
});

describe('isolation', () => {
  it('as root: its own mount, PID and network namespaces — writes stay in the machine, its first process is PID 1, the host is out of reach', async () => {
    // The suite runs as root (README): a machine that is not isolated here is a defect.
    expect(process.getuid?.()).toBe(0);
    const r = runner();
    const marker = `/etc/anex-machine-test-${process.pid}`;
    const id = await vastCreate({
      image: 'ghcr.io/example/trainer:1',
      onstart: '/bin/sh',
      args: [
        '-c',
        `echo "pid $$"; curl -s -m 2 ${vastState.url}/__sim/instances || echo "host unreachable"; echo written > ${marker}; cat ${marker}; exec sleep 300`,
      ],
    });
    const log = await logOf(r, `vastai/${id}`, 'written');
    // Its own network namespace: the simulator's API on this host's loopback is not there.
    expect(log).toContain('host unreachable');
    expect(r.machines().get(`vastai/${id}`)?.isolation, plainModeReason()).toBe('namespaces');
    expect(log).toContain('pid 1');
    expect(existsSync(marker)).toBe(false);
    await vastDestroy(id);
    await r.sync();
    expect(r.liveProcesses()).toEqual([]);
  });

  it('plain mode (a user without root, or ANEX_SIM_ISOLATION=plain): the same launch runs in a per-machine directory', async () => {
    const saved = process.env.ANEX_SIM_ISOLATION;
    process.env.ANEX_SIM_ISOLATION = 'plain';
    try {
      const r = runner();
      const id = await vastCreate({
        image: 'ghcr.io/example/trainer:1',
        onstart: '/bin/sh',
        args: ['-c', 'echo "home $HOME"; exec python train.py'],
      });
      const log = await logOf(r, `vastai/${id}`, 'python (simulated) started: train.py');
      const machine = r.machines().get(`vastai/${id}`);
      expect(machine?.isolation).toBe('plain');
      expect(log).toContain(`home ${machine?.dir}/rootfs/root`);
      await vastDestroy(id);
      await r.sync();
      expect(r.liveProcesses()).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.ANEX_SIM_ISOLATION;
      else process.env.ANEX_SIM_ISOLATION = saved;
    }
  });
});
