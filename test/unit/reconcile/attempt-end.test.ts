import { describe, expect, it } from 'vitest';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { tokenBucketLimiter } from '../../../lib/tunnel/endpoint/rate-limit.ts';
import type { AgentEndpointDeps, AgentResponse } from '../../../lib/tunnel/endpoint/types.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { capturingLogger, tunnelSettings } from '../../support/tunnel.ts';
import { agentBackend, agentHarness, anOffer, gpuPod, type Harness, MINUTE } from './harness.ts';

// ADR 0021 on the reconciler's side: every plan step that ends an attempt drops its token and
// status credential in its record write and takes its key out of the gateway's peer set; a
// terminal pod also frees its address. Real plan, executor, store, backend and endpoint; the
// provider is the fake (it sets CONTAINER_ID like Vast).

interface Agent {
  token: string;
  instanceId: string;
  credential?: string;
  publicKey: string;
}

const GATEWAY_TOKEN = newSecret();

/** The keys the endpoint serves the gateway (GET /v1/peers): its desired peer set. */
async function served(deps: AgentEndpointDeps): Promise<string[]> {
  const answer = await call(deps, '/v1/peers', undefined, GATEWAY_TOKEN);
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { peers: { publicKey: string }[] }).peers.map((p) => p.publicKey);
}

function endpoint(h: Harness): AgentEndpointDeps {
  return {
    store: h.store,
    backend: agentBackend(h),
    settings: {
      ...tunnelSettings(),
      vpnRange: parseVpnRange('10.77.0.0/24'),
      gatewayTokenHash: sha256Hex(GATEWAY_TOKEN),
    },
    logger: capturingLogger(),
    now: () => h.now,
    rateLimiter: tokenBucketLimiter({ capacity: 1000 }),
  };
}

function call(
  deps: AgentEndpointDeps,
  path: string,
  body: unknown,
  credential?: string,
): Promise<AgentResponse> {
  return handleAgentRequest(
    {
      method: body === undefined ? 'GET' : 'POST',
      path,
      headers: credential === undefined ? {} : { authorization: `Bearer ${credential}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    deps,
  );
}

/** The agent of the latest create: its token and the instance id its provider set, as the machine has them. */
function latestAgent(h: Harness): Agent {
  const created = h.vast.creates.at(-1);
  const env = created?.launch.env ?? {};
  const instance = h.vast.live().at(-1);
  expect(env.ANEX_INSTANCE_ID_ENV).toBe('CONTAINER_ID');
  return {
    token: env.ANEX_BOOTSTRAP_TOKEN ?? '',
    instanceId: instance?.id ?? '',
    publicKey: wgKeyPair().publicKey,
  };
}

async function bootstrap(deps: AgentEndpointDeps, podUid: string, agent: Agent): Promise<AgentResponse> {
  const answer = await call(deps, '/v1/bootstrap', {
    token: agent.token,
    podUid,
    instanceId: agent.instanceId,
    publicKey: agent.publicKey,
  });
  if (answer.status === 200)
    agent.credential = (JSON.parse(answer.body) as { statusCredential: string }).statusCredential;
  return answer;
}

/** A pod rented, its machine up, its agent bootstrapped and started. */
async function running(restartPolicy: 'Always' | 'Never') {
  const h = agentHarness();
  h.vast.instanceIdEnv = 'CONTAINER_ID';
  h.vast.offers = [anOffer(), anOffer({ offerId: 'o-2', machineId: 'm-2' })];
  const pod = h.cluster.addPod(gpuPod(1, { restartPolicy }));
  const deps = endpoint(h);
  await h.pass();
  h.tick(MINUTE);
  h.vast.advance();
  const first = latestAgent(h);
  expect((await bootstrap(deps, pod.uid, first)).status).toBe(200);
  expect(
    (await call(deps, '/v1/status', { podUid: pod.uid, state: 'started' }, first.credential)).status,
  ).toBe(200);
  await h.pass();
  expect((await h.store.listAddresses()).map((a) => a.publicKey)).toEqual([first.publicKey]);
  expect(await served(deps)).toEqual([first.publicKey]);
  return { h, pod, deps, first };
}

describe('the end of an attempt ends its access', () => {
  it.each([
    {
      name: 'an exit under restartPolicy Always (next machine)',
      policy: 'Always' as const,
      end: async (c: Awaited<ReturnType<typeof running>>) => {
        await call(
          c.deps,
          '/v1/status',
          { podUid: c.pod.uid, state: 'exited', exitCode: 1 },
          c.first.credential,
        );
      },
      replaced: true,
    },
    {
      name: 'the machine lost while running (next machine)',
      policy: 'Always' as const,
      end: async (c: Awaited<ReturnType<typeof running>>) => {
        c.h.vast.setState(c.first.instanceId, { phase: 'failed', fault: 'host', reason: 'offline' });
      },
      replaced: true,
    },
    {
      name: 'the final exit under restartPolicy Never (finished)',
      policy: 'Never' as const,
      end: async (c: Awaited<ReturnType<typeof running>>) => {
        await call(
          c.deps,
          '/v1/status',
          { podUid: c.pod.uid, state: 'exited', exitCode: 0 },
          c.first.credential,
        );
      },
      replaced: false,
    },
  ])('$name: old token, credential and key refused in that pass', async ({ policy, end, replaced }) => {
    const c = await running(policy);
    await end(c);
    c.h.tick(MINUTE);
    await c.h.pass();
    const record = await c.h.store.getPod(c.pod.uid);
    const peers = await c.h.store.listAddresses();
    // The old key is out of the desired peer set; a finished pod holds no address at all.
    expect(peers.map((p) => p.publicKey)).toEqual(replaced ? [undefined] : []);
    expect(await served(c.deps)).toEqual([]);
    expect(record?.stage).toBe(replaced ? 'starting' : 'finished');
    expect(record?.statusCredentialHash).toBeUndefined();
    // The old status credential: refused on both routes, and nothing recorded.
    const before = record?.version;
    const forged = await call(
      c.deps,
      '/v1/status',
      { podUid: c.pod.uid, state: 'exited', exitCode: 0 },
      c.first.credential,
    );
    const alive = await call(c.deps, `/v1/pod-alive?podUid=${c.pod.uid}`, undefined, c.first.credential);
    expect([forged.status, alive.status]).toEqual([401, 401]);
    expect((await c.h.store.getPod(c.pod.uid))?.version).toBe(before);
    // The old token, even with the old instance id: refused.
    const stale = await bootstrap(c.deps, c.pod.uid, { ...c.first, publicKey: wgKeyPair().publicKey });
    expect(stale.status).toBe(401);
    if (!replaced) return;
    // The replacement's agent gets in with its own token on its own instance, and only there.
    const second = latestAgent(c.h);
    expect(second.instanceId).not.toBe(c.first.instanceId);
    c.h.vast.advance();
    expect((await bootstrap(c.deps, c.pod.uid, { ...second, instanceId: c.first.instanceId })).status).toBe(
      401,
    );
    expect((await bootstrap(c.deps, c.pod.uid, second)).status).toBe(200);
    expect((await c.h.store.listAddresses()).map((p) => p.publicKey)).toEqual([second.publicKey]);
    expect(await served(c.deps)).toEqual([second.publicKey]);
  });

  it('a pod deleted whose destroy fails: the key leaves the peer set at once, the address when it is gone', async () => {
    const c = await running('Always');
    // Past its grace: no graceful stop is waited for.
    c.h.cluster.requestDeletion(c.pod, new Date(c.h.now - 10 * MINUTE).toISOString());
    c.h.vast.failNext('destroy');
    await c.h.pass();
    expect((await c.h.store.getPod(c.pod.uid))?.stage).toBe('terminating');
    expect((await c.h.store.listAddresses()).map((p) => [p.podUid, p.publicKey])).toEqual([
      [c.pod.uid, undefined],
    ]);
    expect(await served(c.deps)).toEqual([]);
    const alive = await call(c.deps, `/v1/pod-alive?podUid=${c.pod.uid}`, undefined, c.first.credential);
    expect(alive.status).toBe(401);
    c.h.tick(MINUTE);
    await c.h.pass();
    expect([await c.h.store.listAddresses(), c.h.vast.live()]).toEqual([[], []]);
  });

  it('a create that got no answer and left no instance, at the last attempt: the pod fails and its address is freed', async () => {
    const h = agentHarness({ maxAttempts: 1 });
    h.vast.instanceIdEnv = 'CONTAINER_ID';
    h.vast.offers = [anOffer()];
    h.vast.onCreate('lost-request');
    const pod = h.cluster.addPod(gpuPod(1, { restartPolicy: 'Never' }));
    await h.pass();
    const creating = await h.store.getPod(pod.uid);
    expect([
      creating?.stage,
      creating?.agentToken?.instanceBound,
      (await h.store.listAddresses()).length,
    ]).toEqual(['creating', true, 1]);
    h.tick(3 * MINUTE);
    await h.pass();
    const record = await h.store.getPod(pod.uid);
    expect([record?.stage, record?.failureReason, record?.agentToken]).toEqual([
      'finished',
      'ProvisioningFailed',
      undefined,
    ]);
    expect(await h.store.listAddresses()).toEqual([]);
  });
});
