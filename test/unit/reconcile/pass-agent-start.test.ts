import { describe, expect, it } from 'vitest';
import { ReconcilerAgentBackend } from '../../../lib/reconcile/agent-backend.ts';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { plainLaunch } from '../../../lib/reconcile/launch.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { anOffer, gpuPod, type Harness, harness, MINUTE } from './harness.ts';

// DESIGN §4: Running means the container started. Through the agent launch that is the agent's
// 'started' report; provider "running" only says the machine is up. Without the tunnel (plain
// launch) the provider's "running" is the container's start.

type Launch = 'agent' | 'plain';

function withLaunch(launch: Launch): Harness {
  const h = harness({ startTimeoutMs: { vastai: 10 * MINUTE, runpod: 20 * MINUTE } });
  h.deps.launch =
    launch === 'plain'
      ? plainLaunch
      : agentLaunch({
          store: h.store,
          range: parseVpnRange('10.77.0.0/24'),
          endpointUrl: 'https://agent.example.test',
          now: () => h.now,
          agent: { sha256: { amd64: 'a'.repeat(64), arm64: 'b'.repeat(64) }, run: 'exec' },
        });
  return h;
}

function backendOf(h: Harness): ReconcilerAgentBackend {
  return new ReconcilerAgentBackend({
    store: h.store,
    cluster: h.cluster,
    transport: { vastai: 'udp', runpod: 'wstunnel' },
    clock: () => h.now,
  });
}

/** Rents for one pod, then lets its machine come up (provider: running) and runs a pass. */
async function machineUp(h: Harness) {
  h.vast.offers = [anOffer(), anOffer()];
  const pod = h.cluster.addPod(gpuPod(1));
  await h.pass();
  h.tick(MINUTE);
  h.vast.advance();
  await h.pass();
  return pod;
}

const WAITING_FOR_AGENT =
  'Instance i-1 is up; waiting for the anex agent to start the container (tunnel handshake)';

describe('runPass: when a pod counts as Running', () => {
  it.each([
    {
      launch: 'plain' as const,
      agentReports: false,
      phase: 'Running',
      stage: 'running',
      state: { running: expect.any(Object) },
    },
    {
      launch: 'agent' as const,
      agentReports: false,
      phase: 'Pending',
      stage: 'starting',
      state: { waiting: { reason: 'ContainerCreating', message: WAITING_FOR_AGENT } },
    },
    {
      launch: 'agent' as const,
      agentReports: true,
      phase: 'Running',
      stage: 'running',
      state: { running: expect.any(Object) },
    },
  ])('$launch launch, machine up, agent reported start: $agentReports → $phase', async (row) => {
    const h = withLaunch(row.launch);
    const pod = await machineUp(h);
    if (row.agentReports) await backendOf(h).recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    h.tick(MINUTE);
    await h.pass();

    const record = await h.store.getPod(pod.uid);
    expect(record).toMatchObject({ stage: row.stage, launch: row.launch });
    const status = h.cluster.pod('default', pod.name)?.status;
    expect(status?.phase).toBe(row.phase);
    expect(status?.containerStatuses[0]?.state).toEqual(row.state);
    expect(status?.podIP).toBe(record?.vpnAddress);
    expect(h.vast.creates).toHaveLength(1);
  });

  it('agent launch: the start reported before the provider says running is Running at once', async () => {
    const h = withLaunch('agent');
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    h.tick(30_000);
    await backendOf(h).recordStatus(pod.uid, { state: 'started' }, { now: h.now });
    await h.pass();
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Running');
    expect((await h.store.getPod(pod.uid))?.stage).toBe('running');
  });

  it('agent launch: a start reported before the pass recorded the instance is kept through adoption', async () => {
    const h = withLaunch('agent');
    h.vast.offers = [anOffer(), anOffer()];
    h.vast.onCreate('lost-answer');
    const pod = h.cluster.addPod(gpuPod(1));
    await h.pass();
    expect((await h.store.getPod(pod.uid))?.stage).toBe('creating');
    h.vast.advance();
    h.tick(10_000);
    const reportedAt = h.now;
    await backendOf(h).recordStatus(pod.uid, { state: 'started' }, { now: reportedAt });
    // Not Running yet: the instance is not recorded; the pass that adopts it says so.
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Pending');
    expect(await h.store.getPod(pod.uid)).toMatchObject({ stage: 'creating', startedAt: reportedAt });

    h.tick(MINUTE);
    await h.pass();
    await h.pass();
    expect(await h.store.getPod(pod.uid)).toMatchObject({ stage: 'running', startedAt: reportedAt });
    expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe('Running');
    expect(h.vast.creates).toHaveLength(1);
  });

  it('agent launch: waiting for the agent writes the status once (no flapping across passes)', async () => {
    const h = withLaunch('agent');
    const pod = await machineUp(h);
    const first = h.cluster.pod('default', pod.name)?.status;
    for (let i = 0; i < 3; i++) {
      h.tick(MINUTE);
      await h.pass();
    }
    expect(h.cluster.pod('default', pod.name)?.status).toEqual(first);
    expect(h.cluster.events(pod).filter((e) => e.reason === 'Started')).toEqual([]);
  });

  it.each([
    { launch: 'agent' as const, after: 9 * MINUTE, phase: 'Pending', creates: 1, banned: [] as string[] },
    { launch: 'agent' as const, after: 11 * MINUTE, phase: 'Pending', creates: 2, banned: ['m-first'] },
    { launch: 'plain' as const, after: 11 * MINUTE, phase: 'Running', creates: 1, banned: [] as string[] },
  ])(
    '$launch launch, machine up, no agent report $after ms after create → $phase, $creates create(s)',
    async ({ launch, after, phase, creates, banned }) => {
      const h = withLaunch(launch);
      h.vast.offers = [anOffer({ machineId: 'm-first', pricePerHour: 0.1 }), anOffer({ pricePerHour: 0.2 })];
      const pod = h.cluster.addPod(gpuPod(1));
      await h.pass();
      h.vast.advance();
      h.tick(after);
      await h.pass();

      expect(h.cluster.pod('default', pod.name)?.status?.phase).toBe(phase);
      expect(h.vast.creates).toHaveLength(creates);
      expect((await h.store.listBans('vastai', h.now)).map((b) => b.machineId)).toEqual(banned);
      const live = h.vast.live().map((i) => i.id);
      expect(live).toEqual(creates === 1 ? ['i-1'] : ['i-2']);
      if (banned.length > 0) {
        const reasons = h.cluster.events(pod).map((e) => `${e.reason}: ${e.message}`);
        expect(reasons.join('\n')).toContain(
          'is up but the anex agent did not start the container within 10 min',
        );
        expect(reasons.some((r) => r.startsWith('MachineBanned'))).toBe(true);
      }
    },
  );
});
