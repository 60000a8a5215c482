import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionUrlResult } from '../../../functions/support/function-url.ts';
import type { PodEventMessage } from '../../../lib/admission/pod-event.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { newSecret } from '../../../lib/tunnel/tokens.ts';
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
// parts: a pod rented by pod-events with the agent launch, bootstrap with the token and
// instance id on the simulated machine, a status report — a wrong token refused without a
// trace in logs, and the 2026-12 audit's PoC A and D replayed against ADR 0021.

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

/** What the launch left on a simulated machine: the bootstrap token and the instance id Vast sets. */
async function onMachine(id: string | undefined): Promise<{ token: string; instanceId: string }> {
  return eventually(
    async () => {
      const env = ground.vast.runningInstances().find((i) => i.id === id)?.env;
      const token = env?.ANEX_BOOTSTRAP_TOKEN;
      const name = env?.ANEX_INSTANCE_ID_ENV;
      const instanceId = name === undefined ? undefined : env?.[name];
      return token === undefined || instanceId === undefined ? undefined : { token, instanceId };
    },
    { what: `instance ${id} running with its launch env`, timeoutMs: 15_000, intervalMs: 100 },
  );
}

/** Passes until the pod's record names a machine other than `previous`. */
async function nextMachine(
  ref: { podUid: string; namespace: string; name: string },
  previous: string | undefined,
  cause: PodEventMessage['cause'],
): Promise<string> {
  return eventually(
    async () => {
      await podPass({ ...ref, cause });
      const id = (await ground.store.getPod(ref.podUid))?.instance?.id;
      return id !== undefined && id !== previous ? id : undefined;
    },
    { what: `the pod on a machine other than ${previous}`, timeoutMs: 30_000, intervalMs: 200 },
  );
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
      expect(JSON.parse(response.body)).toEqual({
        error: "bootstrap token rejected (not this pod's current attempt: it ended or was replaced)",
      });
      const logged = output.text();
      expect(logged).toContain('agent credential refused');
      expect(logged).not.toContain(badToken);
    },
  );

  it('bootstraps with the token the launch put on the machine and its instance id, takes a status report, and the pod runs', async () => {
    await tick(aSchedulerEvent(), aLambdaContext('anex-tick', 6_000));
    const { name, uid } = await createBoundSeedPod(ns, 'seed-example-vastai.yaml', ground.nodeNames.vastai);
    const ref = { podUid: uid, namespace: ns.name, name };
    await podPass({ ...ref, cause: 'bound' });
    const record = await ground.store.getPod(uid);
    expect(record?.launch).toBe('agent');
    expect(liveInstances(ground).map((i) => i.label)).toEqual([`anex.${ground.clusterId}.${uid}`]);

    // The token the launch put on the machine, with the id Vast sets there (ADR 0021).
    const { token, instanceId } = await onMachine(record?.instance?.id);
    expect(instanceId).toBe(record?.instance?.id);
    const bootstrap = await call({
      method: 'POST',
      path: '/v1/bootstrap',
      body: { token, podUid: uid, instanceId, arch: 'amd64' },
    });
    expect(bootstrap.statusCode).toBe(200);
    const config = JSON.parse(bootstrap.body) as {
      podUid: string;
      address: string;
      statusCredential: string;
    };
    expect(config.podUid).toBe(uid);
    expect(config.address).toMatch(/^10\.97\.0\.\d+$/);
    // Once per attempt: the same token again is refused.
    const replay = await call({
      method: 'POST',
      path: '/v1/bootstrap',
      body: { token, podUid: uid, instanceId },
    });
    expect([replay.statusCode, JSON.parse(replay.body)]).toEqual([
      409,
      { error: 'this attempt already bootstrapped' },
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

  it("replays the audit's PoC A and PoC D: a replaced attempt's token and status credential are refused, and alarm", async () => {
    await tick(aSchedulerEvent(), aLambdaContext('anex-tick', 6_000));
    const { name, uid } = await createBoundSeedPod(ns, 'seed-example-vastai.yaml', ground.nodeNames.vastai);
    const ref = { podUid: uid, namespace: ns.name, name };
    await podPass({ ...ref, cause: 'bound' });
    const first = (await ground.store.getPod(uid))?.instance?.id;
    // PoC A: host 1 keeps its token and stalls; its machine goes offline and the pod moves on.
    const host1 = await onMachine(first);
    ground.vast.loseHost(first as string);
    const second = await nextMachine(ref, first, 'bound');
    const host2 = await onMachine(second);
    for (const instanceId of [host1.instanceId, host2.instanceId]) {
      const stale = await call({
        method: 'POST',
        path: '/v1/bootstrap',
        body: { token: host1.token, podUid: uid, instanceId, publicKey: wgKeyPair().publicKey },
      });
      expect(stale.statusCode).toBe(401);
    }
    // The second attempt's own agent gets in; only its key is in the peer set.
    const peers = async () =>
      (await ground.store.listAddresses()).filter((a) => a.podUid === uid).map((a) => a.publicKey);
    const key2 = wgKeyPair().publicKey;
    const admitted2 = await call({
      method: 'POST',
      path: '/v1/bootstrap',
      body: { token: host2.token, podUid: uid, instanceId: host2.instanceId, publicKey: key2 },
    });
    expect([admitted2.statusCode, await peers()]).toEqual([200, [key2]]);
    const credential2 = (JSON.parse(admitted2.body) as { statusCredential: string }).statusCredential;
    const report = (credential: string, body: Record<string, unknown>) =>
      call({
        method: 'POST',
        path: '/v1/status',
        headers: { authorization: `Bearer ${credential}` },
        body: { podUid: uid, ...body },
      });
    expect((await report(credential2, { state: 'started' })).statusCode).toBe(200);
    // PoC D: the run ends (restartPolicy Always: a new machine, whose agent bootstraps); host 2's
    // credential then says the new attempt started and succeeded.
    expect((await report(credential2, { state: 'exited', exitCode: 1 })).statusCode).toBe(200);
    const third = await nextMachine(ref, second, 'agent-status');
    expect(await peers()).toEqual([undefined]);
    const host3 = await onMachine(third);
    const key3 = wgKeyPair().publicKey;
    const admitted3 = await call({
      method: 'POST',
      path: '/v1/bootstrap',
      body: { token: host3.token, podUid: uid, instanceId: host3.instanceId, publicKey: key3 },
    });
    expect([admitted3.statusCode, await peers()]).toEqual([200, [key3]]);
    const before = await ground.store.getPod(uid);
    const forged = [
      await report(credential2, { state: 'started' }),
      await report(credential2, { state: 'exited', exitCode: 0 }),
      await call({
        method: 'GET',
        path: '/v1/pod-alive',
        query: `podUid=${uid}`,
        headers: { authorization: `Bearer ${credential2}` },
      }),
    ];
    expect(forged.map((r) => r.statusCode)).toEqual([401, 401, 401]);
    const after = await ground.store.getPod(uid);
    expect([after?.version, after?.exitCode, after?.stage]).toEqual([before?.version, undefined, 'starting']);
    await podPass({ ...ref, cause: 'agent-status' });
    const pod = await ns.core.readNamespacedPod({ namespace: ns.name, name });
    expect(pod.status?.phase).not.toBe('Succeeded');
    // Each refusal an honest agent never causes is an AgentAuthFailures data point (EMF) with its
    // reason; no token or credential is in the output.
    const emf = output
      .text()
      .split('\n')
      .filter((line) => line.includes('"AgentAuthFailures":1') && line.includes(uid));
    expect(emf.map((line) => (JSON.parse(line) as { reason: string }).reason).sort()).toEqual([
      'credential-wrong',
      'credential-wrong',
      'credential-wrong',
      'token-wrong-attempt',
      'token-wrong-attempt',
    ]);
    for (const secret of [host1.token, host2.token, host3.token, credential2]) {
      expect(output.text()).not.toContain(secret);
    }
    await deleteThrough(ns, name, () => podPass({ ...ref, cause: 'deleted' }));
    expect(liveInstances(ground)).toEqual([]);
  });
});
