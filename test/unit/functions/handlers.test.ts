import { describe, expect, it } from 'vitest';
import { admit } from '../../../functions/admission.ts';
import { serveAgent } from '../../../functions/agent.ts';
import { handlePodEvents } from '../../../functions/pod-events.ts';
import type { AdmissionRoot } from '../../../functions/support/admission-root.ts';
import type { Deadline } from '../../../functions/support/deadline.ts';
import type { ReconcilerRoot } from '../../../functions/support/reconciler-root.ts';
import { runTick } from '../../../functions/tick.ts';
import type { PodEventMessage, PodEventSink } from '../../../lib/admission/pod-event.ts';
import { loadConfigFromEnv, reconcileConfig, virtualNodes } from '../../../lib/config/config.ts';
import { Secret } from '../../../lib/config/secrets.ts';
import { AnexError } from '../../../lib/errors.ts';
import { MemoryCluster } from '../../../lib/kube/memory-cluster.ts';
import { plainLaunch } from '../../../lib/reconcile/launch.ts';
import { defaultRules } from '../../../lib/reconcile/rules-default.ts';
import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { FakeProvider } from '../../support/fakes/fake-provider.ts';

const TOKEN = 'webhook-'.padEnd(32, 'x'); // a placeholder of the real token's length

function aDeadline(msFromNow = 60_000): Deadline {
  return { at: Date.now() + msFromNow, signal: new AbortController().signal };
}

/** A reconciler root over the in-memory Store and Cluster and a fake Vast provider without offers. */
function aReconcilerRoot(): ReconcilerRoot & { cluster: MemoryCluster } {
  const config = loadConfigFromEnv({});
  const cluster = new MemoryCluster();
  const deps = {
    store: new MemoryStore(),
    cluster,
    providers: { vastai: new FakeProvider('vastai') },
    config: reconcileConfig(config),
    rules: defaultRules,
    launch: plainLaunch,
    clock: Date.now,
  };
  return { config, deps, nodes: virtualNodes(config).filter((n) => n.provider === 'vastai'), cluster };
}

class RecordingSink implements PodEventSink {
  readonly sent: PodEventMessage[] = [];
  failWith: Error | undefined;
  async send(message: PodEventMessage): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.sent.push(message);
  }
}

function anAdmissionRoot(sink: PodEventSink): AdmissionRoot {
  return {
    webhookToken: new Secret(TOKEN),
    sink,
    settings: {
      nodeNames: ['anex-vastai', 'anex-runpod'],
      nodeSelectorKey: 'node-provider',
      nodeSelectorValues: ['vastai', 'runpod'],
    },
  };
}

function aUrlEvent(options: { path?: string; method?: string; body?: unknown }) {
  return {
    rawPath: options.path ?? `/admit/${TOKEN}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    isBase64Encoded: false,
    requestContext: { http: { method: options.method ?? 'POST' }, requestId: 'r-1' },
  };
}

function aReview(request: Record<string, unknown>) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'req-1',
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'ml',
      name: 'train',
      ...request,
    },
  };
}

const anexPod = (annotations: Record<string, string>) => ({
  metadata: { name: 'train', namespace: 'ml', annotations },
  spec: { nodeSelector: { 'node-provider': 'vastai' }, containers: [{ name: 'main', image: 'x' }] },
});

describe('tick', () => {
  it('registers the virtual nodes, renews their leases and runs a pass within the window', async () => {
    const root = aReconcilerRoot();
    await runTick(root, { deadline: aDeadline(), windowSeconds: 0.05 });
    expect(root.cluster.node('anex-vastai')).toBeDefined();
    expect(root.cluster.lease('anex-vastai')).toBeDefined();
    expect(root.cluster.node('anex-runpod')).toBeUndefined();
    expect(root.cluster.calls.listPods).toBe(1);
  });

  it('keeps the heartbeat going when the pass cannot read state, then fails the invocation', async () => {
    const root = aReconcilerRoot();
    root.deps.store.listPods = async () => {
      throw new AnexError('table unavailable', { kind: 'unavailable', retryable: true });
    };
    await expect(runTick(root, { deadline: aDeadline(), windowSeconds: 0.05 })).rejects.toThrow(
      'table unavailable',
    );
    expect(root.cluster.lease('anex-vastai')).toBeDefined();
  });
});

describe('pod-events', () => {
  const record = (messageId: string, body: unknown) => ({
    messageId,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    receiptHandle: 'h',
  });

  it('runs one pass per pod, drops unreadable and gone ones, and retries none of them', async () => {
    const root = aReconcilerRoot();
    const pod = root.cluster.addPod({ namespace: 'ml', name: 'train', nodeName: 'anex-vastai' });
    const event = {
      Records: [
        record('m1', { podUid: pod.uid, namespace: 'ml', name: 'train', cause: 'bound' }),
        record('m2', { namespace: 'ml', name: 'train', cause: 'bound' }),
        record('m3', 'not json'),
        record('m4', { namespace: 'ml', name: 'gone-pod', cause: 'deleted' }),
      ],
    };
    expect(await handlePodEvents(event, root, { deadline: aDeadline() })).toEqual({ batchItemFailures: [] });
  });

  it('reports retryable failures and messages past the deadline for redelivery', async () => {
    const root = aReconcilerRoot();
    root.deps.store.listPods = async () => {
      throw new AnexError('table unavailable', { kind: 'unavailable', retryable: true });
    };
    const event = { Records: [record('m1', { podUid: 'u1', namespace: 'ml', name: 'a', cause: 'bound' })] };
    expect(await handlePodEvents(event, root, { deadline: aDeadline() })).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm1' }],
    });
    const aborted = new AbortController();
    aborted.abort();
    expect(
      await handlePodEvents(event, aReconcilerRoot(), {
        deadline: { at: Date.now(), signal: aborted.signal },
      }),
    ).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  });
});

describe('admission', () => {
  it.each([
    ['a wrong token', { path: '/admit/not-the-token-at-all-0000' }, 403],
    ['no token', { path: '/' }, 403],
    ['a GET', { method: 'GET' }, 405],
    ['a body that is not an AdmissionReview', { body: { hello: 'world' } }, 400],
  ])('answers %s with %i', async (_what, options, status) => {
    const result = await admit(aUrlEvent(options), anAdmissionRoot(new RecordingSink()), {
      deadline: aDeadline(),
    });
    expect(result.statusCode).toBe(status);
  });

  it('refuses a pod with invalid annotations in an AdmissionReview v1 response', async () => {
    const review = aReview({ operation: 'CREATE', object: anexPod({ 'anex.sh/vram-min': '20GB' }) });
    const result = await admit(aUrlEvent({ body: review }), anAdmissionRoot(new RecordingSink()), {
      deadline: aDeadline(),
    });
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'req-1',
        allowed: false,
        status: { code: 422, message: expect.stringContaining('anex.sh/vram-min') },
      },
    });
  });

  it('enqueues a pass for a binding to an anex node', async () => {
    const sink = new RecordingSink();
    const review = aReview({
      operation: 'CREATE',
      subResource: 'binding',
      object: { metadata: { name: 'train', uid: 'u-1' }, target: { kind: 'Node', name: 'anex-vastai' } },
    });
    const result = await admit(aUrlEvent({ body: review }), anAdmissionRoot(sink), { deadline: aDeadline() });
    expect(JSON.parse(result.body).response).toEqual({ uid: 'req-1', allowed: true });
    expect(sink.sent).toEqual([{ podUid: 'u-1', namespace: 'ml', name: 'train', cause: 'bound' }]);
  });

  it('still admits when the queue is down (the tick catches up)', async () => {
    const sink = new RecordingSink();
    sink.failWith = new AnexError('queue down', { kind: 'unavailable' });
    const review = aReview({
      operation: 'DELETE',
      oldObject: { metadata: { uid: 'u-1' }, spec: { nodeName: 'anex-runpod' } },
    });
    const result = await admit(aUrlEvent({ body: review }), anAdmissionRoot(sink), { deadline: aDeadline() });
    expect(JSON.parse(result.body).response.allowed).toBe(true);
  });
});

describe('admission: the mutating webhook at /mutate/<token>', () => {
  const defaulted = (key: string) => ({
    key,
    operator: 'Exists',
    effect: 'NoExecute',
    tolerationSeconds: 300,
  });
  const podWith = (nodeSelector: Record<string, string>) => ({
    metadata: { name: 'train', namespace: 'ml' },
    spec: {
      nodeSelector,
      containers: [{ name: 'main', image: 'x' }],
      tolerations: [defaulted('node.kubernetes.io/not-ready'), defaulted('node.kubernetes.io/unreachable')],
    },
  });
  const mutate = (object: unknown, sink = new RecordingSink()) =>
    admit(
      aUrlEvent({ path: `/mutate/${TOKEN}`, body: aReview({ operation: 'CREATE', object }) }),
      anAdmissionRoot(sink),
      {
        deadline: aDeadline(),
      },
    );

  it('answers an anex pod with a JSONPatch making the outage tolerations permanent, and enqueues nothing', async () => {
    const sink = new RecordingSink();
    const result = await mutate(podWith({ 'node-provider': 'runpod' }), sink);
    expect(result.statusCode).toBe(200);
    const { response } = JSON.parse(result.body);
    expect(response).toMatchObject({ uid: 'req-1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'))).toEqual([
      {
        op: 'replace',
        path: '/spec/tolerations',
        value: [
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        ],
      },
    ]);
    expect(sink.sent).toEqual([]);
  });

  it('answers an ordinary pod without a patch', async () => {
    const result = await mutate(podWith({ 'kubernetes.io/os': 'linux' }));
    expect(JSON.parse(result.body).response).toEqual({ uid: 'req-1', allowed: true });
  });

  it('never validates on the mutate path (invalid annotations are the validating webhook’s call)', async () => {
    const pod = {
      ...podWith({ 'node-provider': 'vastai' }),
      metadata: { annotations: { 'anex.sh/vram-min': '20GB' } },
    };
    const result = await mutate(pod);
    expect(JSON.parse(result.body).response.allowed).toBe(true);
  });

  it.each([`/mutate/${TOKEN}/`, `/mutate/${TOKEN.slice(1)}`, '/mutate/'])(
    'refuses %s with 403',
    async (path) => {
      const result = await admit(
        aUrlEvent({ path, body: aReview({ operation: 'CREATE' }) }),
        anAdmissionRoot(new RecordingSink()),
        {
          deadline: aDeadline(),
        },
      );
      expect(result.statusCode).toBe(403);
    },
  );
});

describe('agent', () => {
  it('answers 503 (agents retry) while the endpoint is not configured', async () => {
    const result = await serveAgent(aUrlEvent({ path: '/v1/bootstrap' }), undefined);
    expect(result).toMatchObject({ statusCode: 503 });
  });
});
