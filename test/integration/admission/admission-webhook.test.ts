import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admit } from '../../../functions/admission.ts';
import type { AdmissionRoot } from '../../../functions/support/admission-root.ts';
import type { PodEventMessage, PodEventSink } from '../../../lib/admission/pod-event.ts';
import { Secret } from '../../../lib/config/secrets.ts';
import type { KubeObject } from '../../../lib/manifests/common.ts';
import { buildManifests } from '../../../lib/manifests/render.ts';
import { generatePki } from '../../support/certs.ts';
import { adminKubeConfig, createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';

// The admission function behind a local HTTPS server, registered with the real kube-apiserver
// through the ValidatingWebhookConfiguration `anex manifests` prints: the API server itself
// sends the AdmissionReviews (pod create, pods/binding, pod delete) through our CEL
// matchConditions, and enforces our verdicts.

const suffix = randomBytes(3).toString('hex');
const TOKEN = randomBytes(24).toString('hex');
const nodeName = `anex-adm-${suffix}`;
const webhookName = `anex-it-${suffix}`;

const sent: PodEventMessage[] = [];
/** names of the objects the API server asked us about */
const reviewed: string[] = [];
const sink: PodEventSink = {
  async send(message) {
    sent.push(message);
  },
};
const root: AdmissionRoot = {
  webhookToken: new Secret(TOKEN),
  sink,
  settings: {
    nodeNames: [nodeName],
    nodeSelectorKey: 'node-provider',
    nodeSelectorValues: ['vastai', 'runpod'],
  },
};

let admin: KubeConfig;
let server: Server;
let pkiDir: string;
let ns: TestNamespace;

function serve(ca: { cert: string; key: string }): Promise<Server> {
  const https = createServer(ca, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(request.url ?? '/', 'https://127.0.0.1');
      const event = {
        rawPath: url.pathname,
        rawQueryString: url.search.replace(/^\?/, ''),
        headers: {},
        body,
        isBase64Encoded: false,
        requestContext: { http: { method: request.method ?? 'GET' } },
      };
      const name = (JSON.parse(body) as { request?: { name?: string } }).request?.name;
      if (name !== undefined) reviewed.push(name);
      const deadline = { at: Date.now() + 5_000, signal: AbortSignal.timeout(5_000) };
      void admit(event, root, { deadline }).then((result) => {
        response.writeHead(result.statusCode, result.headers).end(result.body);
      });
    });
  });
  return new Promise((resolve) => https.listen(0, '127.0.0.1', () => resolve(https)));
}

beforeAll(async () => {
  admin = adminKubeConfig();
  pkiDir = await mkdtemp(join(tmpdir(), 'anex-webhook-'));
  const pki = await generatePki(pkiDir);
  server = await serve({
    cert: await readFile(pki.servingCert, 'utf8'),
    key: await readFile(pki.servingKey, 'utf8'),
  });
  const { port } = server.address() as AddressInfo;
  const caBundle = (await readFile(pki.caCert)).toString('base64');
  const { objects } = buildManifests({
    version: '0.0.0-test',
    namespace: 'anex-system',
    nodeNames: [nodeName],
    webhookUrl: `https://127.0.0.1:${port}/admit/${TOKEN}`,
  });
  const config = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as KubeObject & {
    webhooks: { clientConfig: Record<string, string> }[];
  };
  config.metadata.name = webhookName;
  for (const webhook of config.webhooks) webhook.clientConfig.caBundle = caBundle;
  await admin
    .makeApiClient(AdmissionregistrationV1Api)
    .createValidatingWebhookConfiguration({ body: config as never });
  ns = await createTestNamespace('admission');
});

afterAll(async () => {
  await admin
    ?.makeApiClient(AdmissionregistrationV1Api)
    .deleteValidatingWebhookConfiguration({ name: webhookName })
    .catch(() => undefined);
  await ns?.remove();
  await new Promise((resolve) => server?.close(resolve));
  if (pkiDir !== undefined) await rm(pkiDir, { recursive: true, force: true });
});

function anexPod(
  name: string,
  annotations: Record<string, string>,
  extra: Partial<V1Pod['spec']> = {},
): V1Pod {
  return {
    metadata: { name, annotations },
    spec: {
      nodeSelector: { 'node-provider': 'vastai' },
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'example/trainer:1' }],
      ...extra,
    },
  };
}

const INVALID = { 'anex.sh/vram-min': '20GB', 'anex.sh/gpu-nmaes': 'RTX 4090' };

async function createError(pod: V1Pod): Promise<string | undefined> {
  return ns.core.createNamespacedPod({ namespace: ns.name, body: pod }).then(
    () => undefined,
    // The API server's Status message, as the client library reports it (body and message).
    (error: { body?: unknown; message?: string }) =>
      `${typeof error.body === 'string' ? error.body : JSON.stringify(error.body)} ${error.message ?? ''}`,
  );
}

describe('admission webhook on a real API server', () => {
  it('refuses an anex pod with invalid annotations, listing every error', async () => {
    // The API server picks up a new webhook configuration within a moment: retry until it does.
    const message = await eventually(
      async () => createError(anexPod(`bad-${randomBytes(2).toString('hex')}`, INVALID)),
      {
        what: 'the API server enforcing the anex webhook',
        timeoutMs: 30_000,
      },
    );
    expect(message).toContain(`admission webhook \\"validate.pods.anex.sh\\" denied the request`);
    expect(message).toContain('anex.sh/gpu-nmaes: unknown annotation; did you mean anex.sh/gpu-names?');
    expect(message).toContain('anex.sh/vram-min: \\"20GB\\" is not a number of megabytes');
  });

  it('admits a valid anex pod, enqueues a pass when it is bound to the node and when it is deleted', async () => {
    const pod = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: anexPod('train', { 'anex.sh/vram-min': '20480' }),
    });
    const uid = pod.metadata?.uid ?? '';
    await ns.core.createNamespacedPodBinding({
      name: 'train',
      namespace: ns.name,
      body: { metadata: { name: 'train', uid }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
    });
    await ns.core.deleteNamespacedPod({ name: 'train', namespace: ns.name, gracePeriodSeconds: 0 });
    // The API server may call a webhook more than once per request (a pod delete runs the
    // deletion admission on each storage attempt): passes are idempotent, so duplicates are
    // harmless — what matters is which messages, in which order of first appearance.
    const distinct = [...new Set(sent.filter((m) => m.name === 'train').map((m) => JSON.stringify(m)))];
    expect(distinct.map((m) => JSON.parse(m) as PodEventMessage)).toEqual([
      { podUid: uid, namespace: ns.name, name: 'train', cause: 'bound' },
      { podUid: uid, namespace: ns.name, name: 'train', cause: 'deleted' },
    ]);
  });

  // issue #14 §6: what a rented machine cannot honour is refused when the pod is made, naming
  // the field — by the real API server calling the webhook, so nothing is ever rented for it.
  it.each([
    [
      'a PVC',
      { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] },
      'spec.volumes[data]: persistentVolumeClaim volumes cannot be attached to a rented machine',
    ],
    ['hostNetwork', { hostNetwork: true }, 'spec.hostNetwork: the pod runs on a rented machine'],
    [
      'an init container with another image',
      { initContainers: [{ name: 'fetch', image: 'curlimages/curl:8' }] },
      'spec.initContainers[fetch]: image \\"curlimages/curl:8\\" differs',
    ],
    [
      'two app containers',
      {
        containers: [
          { name: 'main', image: 'example/trainer:1' },
          { name: 'envoy', image: 'envoyproxy/envoy:v1' },
        ],
      },
      'spec.containers: anex runs exactly one app container per pod',
    ],
  ] as const)('refuses an anex pod with %s at creation, naming the field', async (_what, extra, fragment) => {
    const name = `spec-${randomBytes(2).toString('hex')}`;
    const message = await createError(
      anexPod(name, { 'anex.sh/vram-min': '20480' }, extra as Partial<V1Pod['spec']>),
    );
    expect(message).toContain(`admission webhook \\"validate.pods.anex.sh\\" denied the request`);
    expect(message).toContain('a rented machine cannot honour this pod');
    expect(message).toContain(fragment);
  });

  it('refuses kubectl debug (an ephemeral container) on an anex pod', async () => {
    const name = `debugged-${randomBytes(2).toString('hex')}`;
    await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: anexPod(name, { 'anex.sh/vram-min': '20480' }),
    });
    // On the latest version (the API server's controllers may touch the pod): a conflict is retried.
    const debug = async (): Promise<string> => {
      const pod = await ns.core.readNamespacedPod({ name, namespace: ns.name });
      return ns.core
        .replaceNamespacedPodEphemeralcontainers({
          name,
          namespace: ns.name,
          body: {
            ...pod,
            spec: {
              ...(pod.spec as NonNullable<V1Pod['spec']>),
              ephemeralContainers: [{ name: 'debugger', image: 'busybox:1' }],
            },
          },
        })
        .then(
          () => 'accepted',
          (error: { body?: unknown }) =>
            typeof error.body === 'string' ? error.body : JSON.stringify(error.body),
        );
    };
    let refused = await debug();
    for (let tries = 1; tries < 5 && refused.includes('"code":409'); tries++) refused = await debug();
    expect(refused).toContain(
      `ephemeral containers (kubectl debug) cannot run on anex nodes: pod ${ns.name}/${name} is for the anex`,
    );
    await ns.core.deleteNamespacedPod({ name, namespace: ns.name, gracePeriodSeconds: 0 });
  });

  it('refuses kubectl debug on a pod already on an anex node that selects none (K5)', async () => {
    const name = `bound-${randomBytes(2).toString('hex')}`;
    // Bound by name to the anex node (no selector): the webhook's condition sees nodeName too.
    await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name },
        spec: { nodeName, containers: [{ name: 'main', image: 'example/app:1' }] },
      },
    });
    const pod = await ns.core.readNamespacedPod({ name, namespace: ns.name });
    const refused = await ns.core
      .replaceNamespacedPodEphemeralcontainers({
        name,
        namespace: ns.name,
        body: {
          ...pod,
          spec: {
            ...(pod.spec as NonNullable<V1Pod['spec']>),
            ephemeralContainers: [{ name: 'debugger', image: 'busybox:1' }],
          },
        },
      })
      .then(
        () => 'accepted',
        (error: { body?: unknown }) =>
          typeof error.body === 'string' ? error.body : JSON.stringify(error.body),
      );
    expect(refused).toContain(
      `ephemeral containers (kubectl debug) cannot run on anex nodes: pod ${ns.name}/${name} is on ${nodeName}`,
    );
    await ns.core.deleteNamespacedPod({ name, namespace: ns.name, gracePeriodSeconds: 0 });
  });

  it('is never even called for pods that do not select an anex node', async () => {
    await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'plain', annotations: INVALID },
        spec: { nodeName: 'worker-1', containers: [{ name: 'main', image: 'example/app:1' }] },
      },
    });
    await ns.core.deleteNamespacedPod({ name: 'plain', namespace: ns.name, gracePeriodSeconds: 0 });
    expect(reviewed).not.toContain('plain');
    expect(reviewed).toContain('train');
  });
});
