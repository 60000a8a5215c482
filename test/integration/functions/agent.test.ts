import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionUrlResult } from '../../../functions/support/function-url.ts';
import type { PodEventMessage } from '../../../lib/admission/pod-event.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret } from '../../../lib/tunnel/tokens.ts';
import { createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';
import { agentBinariesEnv } from '../../support/tunnel.ts';
import { type FunctionGround, type LambdaHandler, liveInstances, startFunctionGround } from './ground.ts';
import {
  aFunctionUrlEvent,
  aLambdaContext,
  anSqsEvent,
  anSqsRecord,
  aSchedulerEvent,
} from './lambda-events.ts';
import { captureOutput, type OutputCapture } from './output-capture.ts';
import { createBoundSeedPod, deleteThrough } from './pods.ts';

// The deployed agent function behind its Function URL (payload 2.0), configured with the
// tunnel settings the stack passes through `anex:environment` (docs/tunnel.md), on the real
// parts: a pod rented by pod-events with the agent launch, a token issued into the same
// table, bootstrap and a status report — and a wrong token refused without a trace in logs.

let ground: FunctionGround;
let agent: LambdaHandler<unknown, FunctionUrlResult>;
let podEvents: LambdaHandler<unknown, unknown>;
let tick: LambdaHandler<unknown, void>;
let ns: TestNamespace;
let output: OutputCapture;

/** Operator-pinned agent binaries (the shipped pins carry no checksums yet, and bootstrap refuses those). */
beforeAll(async () => {
  ground = await startFunctionGround({
    env: {
      ANEX_AGENT_ENDPOINT_URL: 'https://agent.anex.test',
      ANEX_GATEWAY_PUBLIC_KEY: wgKeyPair().publicKey,
      ANEX_GATEWAY_UDP_ENDPOINT: '198.51.100.10:51820',
      ANEX_CLUSTER_CIDRS: '10.96.0.0/12',
      ANEX_VPN_RANGE: '10.97.0.0/24',
      ANEX_AGENT_BINARIES: agentBinariesEnv(),
      // What the stack sets on the passes: the agent binary's checksums for the launch stub.
      ANEX_AGENT_SHA256: JSON.stringify({ amd64: 'e'.repeat(64), arm64: 'f'.repeat(64) }),
    },
  });
  agent = ((await import('../../../functions/agent.ts')) as { handler: typeof agent }).handler;
  podEvents = ((await import('../../../functions/pod-events.ts')) as { handler: typeof podEvents }).handler;
  tick = ((await import('../../../functions/tick.ts')) as { handler: typeof tick }).handler;
  ns = await createTestNamespace('fn-agent');
  output = captureOutput();
});

afterAll(async () => {
  output?.stop();
  await ns?.remove();
  await ground?.stop();
});

async function call(request: Parameters<typeof aFunctionUrlEvent>[0]): Promise<FunctionUrlResult> {
  return agent(aFunctionUrlEvent(request), aLambdaContext('anex-agent', 10_000));
}

async function podPass(message: PodEventMessage): Promise<void> {
  await podEvents(
    anSqsEvent([anSqsRecord(JSON.stringify(message))]),
    aLambdaContext('anex-pod-events', 25_000),
  );
}

describe('agent handler on the real parts', () => {
  const badToken = newSecret();
  const podUid = '0b7e2f7c-59a4-4c55-9d3f-6c1f2b0f4a11';

  it.each([
    { encoding: 'plain', base64: false },
    { encoding: 'base64', base64: true },
  ])(
    'refuses a bootstrap with a wrong token ($encoding body): 401 JSON, token not logged',
    async ({ base64 }) => {
      const response = await call({
        method: 'POST',
        path: '/v1/bootstrap',
        body: { token: badToken, podUid },
        base64,
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(response.body)).toEqual({ error: 'bootstrap token rejected (unknown)' });
      const logged = output.text();
      expect(logged).toContain('bootstrap token rejected');
      expect(logged).not.toContain(badToken);
    },
  );

  it('bootstraps with a token issued into the table, takes a status report, and the pod runs', async () => {
    await tick(aSchedulerEvent(), aLambdaContext('anex-tick', 6_000));
    const { name, uid } = await createBoundSeedPod(ns, 'seed-example-vastai.yaml', ground.nodeNames.vastai);
    const ref = { podUid: uid, namespace: ns.name, name };
    await podPass({ ...ref, cause: 'bound' });
    const record = await ground.store.getPod(uid);
    expect(record?.launch).toBe('agent');
    expect(liveInstances(ground).map((i) => i.label)).toEqual([`anex.${ground.clusterId}.${uid}`]);

    const { token } = await issueBootstrapToken(ground.store, { podUid: uid, now: Date.now() });
    const bootstrap = await call({
      method: 'POST',
      path: '/v1/bootstrap',
      body: { token, podUid: uid, instanceId: record?.instance?.id, arch: 'amd64' },
    });
    expect(bootstrap.statusCode).toBe(200);
    const config = JSON.parse(bootstrap.body) as {
      podUid: string;
      address: string;
      statusCredential: string;
    };
    expect(config.podUid).toBe(uid);
    expect(config.address).toMatch(/^10\.97\.0\.\d+$/);
    // Single use: the same token again is refused.
    const replay = await call({ method: 'POST', path: '/v1/bootstrap', body: { token, podUid: uid } });
    expect([replay.statusCode, JSON.parse(replay.body)]).toEqual([
      401,
      { error: 'bootstrap token rejected (used)' },
    ]);

    // Without the agent's report the pod stays Pending, however far the instance booted.
    await podPass({ ...ref, cause: 'bound' });
    const waiting = await ns.core.readNamespacedPod({ namespace: ns.name, name });
    expect(waiting.status?.phase).toBe('Pending');
    expect(liveInstances(ground).map((i) => i.state)).toEqual(['running']);

    const status = await call({
      method: 'POST',
      path: '/v1/status',
      headers: { authorization: `Bearer ${config.statusCredential}` },
      body: { podUid: uid, state: 'started' },
    });
    expect([status.statusCode, JSON.parse(status.body)]).toEqual([200, { recorded: true, alive: true }]);
    const alive = await call({
      method: 'GET',
      path: '/v1/pod-alive',
      query: `podUid=${uid}`,
      headers: { authorization: `Bearer ${config.statusCredential}` },
    });
    expect([alive.statusCode, JSON.parse(alive.body)]).toEqual([200, { alive: true }]);
    await eventually(
      async () => {
        await podPass({ ...ref, cause: 'agent-status' });
        const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
        return pod.status?.phase === 'Running' ? pod : undefined;
      },
      { what: 'the pod Running after the agent reported started', timeoutMs: 30_000, intervalMs: 200 },
    ).then((pod) => expect(pod.status?.podIP).toBe(config.address));
    const logged = output.text();
    for (const secret of [
      token,
      config.statusCredential,
      ground.serviceAccount.token,
      ground.serviceAccount.agent.token,
    ]) {
      expect(logged).not.toContain(secret);
    }
    // The agent function read its own secret (the anex-agent kubeconfig), never the reconciler's.
    expect(ground.secrets.reads('agent')).toBe(1);

    // The agent learns of the deletion at its next pod-alive question, with the grace left,
    // stops the workload and reports its exit; then the machine is destroyed and the pod goes.
    await deleteThrough(
      ns,
      name,
      () => podPass({ ...ref, cause: 'deleted' }),
      async () => {
        const stop = await call({
          method: 'GET',
          path: '/v1/pod-alive',
          query: `podUid=${uid}`,
          headers: { authorization: `Bearer ${config.statusCredential}` },
        });
        const answer = JSON.parse(stop.body) as { alive: boolean; graceSeconds: number };
        expect(answer.alive).toBe(false);
        expect(answer.graceSeconds).toBeGreaterThan(20);
        expect(answer.graceSeconds).toBeLessThanOrEqual(30);
        const exited = await call({
          method: 'POST',
          path: '/v1/status',
          headers: { authorization: `Bearer ${config.statusCredential}` },
          body: { podUid: uid, state: 'exited', exitCode: 143 },
        });
        expect(exited.statusCode).toBe(200);
      },
    );
    expect(liveInstances(ground)).toEqual([]);
    ground.vast.assertNoInstances();
  });
});
