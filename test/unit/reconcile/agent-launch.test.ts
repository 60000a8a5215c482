import { describe, expect, it } from 'vitest';
import { agentLaunch } from '../../../lib/reconcile/agent-launch.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { anOffer, gpuPod, harness, MINUTE } from './harness.ts';

describe('agentLaunch', () => {
  it('launches the agent with URL and one-time token only, and reports the VPN address as podIP', async () => {
    const h = harness();
    h.deps.launch = agentLaunch({
      store: h.store,
      range: parseVpnRange('10.77.0.0/24'),
      endpointUrl: 'https://agent.example.test',
      now: () => h.now,
      agent: { sha256: { amd64: 'a'.repeat(64), arm64: 'b'.repeat(64) }, run: 'exec' },
    });
    h.vast.offers = [anOffer()];
    const pod = h.cluster.addPod(
      gpuPod(1, { containers: [{ name: 'main', image: 'img:1', env: { SECRET_SAUCE: 'x' } }] }),
    );
    await h.pass();
    h.tick(MINUTE);
    h.vast.advance();
    await h.pass();

    const launch = h.vast.creates[0]?.launch;
    expect(launch?.command?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(launch?.env).not.toHaveProperty('SECRET_SAUCE');
    const token = launch?.env.ANEX_BOOTSTRAP_TOKEN ?? '';
    expect(token.length).toBeGreaterThanOrEqual(22);
    expect(await h.store.consumeToken(sha256Hex(token), { now: h.now })).toMatchObject({ outcome: 'ok' });
    const [allocation] = await h.store.listAddresses();
    expect(allocation?.podUid).toBe(pod.uid);
    // The machine is up; the container counts as started only when the agent says so.
    expect(h.cluster.pod('default', pod.name)?.status).toMatchObject({
      phase: 'Pending',
      podIP: allocation?.address,
    });

    h.cluster.requestDeletion(pod);
    h.tick(MINUTE);
    await h.pass();
    expect(await h.store.listAddresses()).toEqual([]);
  });
});
