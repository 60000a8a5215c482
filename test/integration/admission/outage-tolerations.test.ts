import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1Pod,
  type V1Toleration,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admit } from '../../../functions/admission.ts';
import type { AdmissionRoot } from '../../../functions/support/admission-root.ts';
import { Secret } from '../../../lib/config/secrets.ts';
import { outageRepair } from '../../../lib/local/outage-repair.ts';
import type { KubeObject } from '../../../lib/manifests/common.ts';
import { buildManifests } from '../../../lib/manifests/render.ts';
import { generatePki } from '../../support/certs.ts';
import { adminKubeConfig, createTestNamespace, eventually, type TestNamespace } from '../../support/index.ts';

// The mutating webhook `anex manifests` prints, registered with the real kube-apiserver and
// served by the admission function over local HTTPS: the API server's own DefaultTolerationSeconds
// runs first, then our JSONPatch — what is stored is what the taint manager will read. And
// local mode's repair (no webhook) against the same API server: the pod update it sends is one
// the API server's validation accepts.

const suffix = randomBytes(3).toString('hex');
const TOKEN = randomBytes(24).toString('hex');
const webhookName = `anex-it-mutate-${suffix}`;
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';

/** names of the pods the API server asked the mutating webhook about */
const reviewed: string[] = [];
const root: AdmissionRoot = {
  webhookToken: new Secret(TOKEN),
  sink: { send: async () => undefined },
  settings: {
    nodeNames: [`anex-${suffix}`],
    nodeSelectorKey: 'node-provider',
    nodeSelectorValues: ['vastai', 'runpod'],
  },
};

let admin: KubeConfig;
let server: Server;
let pkiDir: string;
let ns: TestNamespace;
/** excluded from the webhooks (the manifests' own namespace): local mode's situation */
let unhooked: TestNamespace;

function serve(tls: { cert: string; key: string }): Promise<Server> {
  const https = createServer(tls, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(request.url ?? '/', 'https://127.0.0.1');
      const event = {
        rawPath: url.pathname,
        rawQueryString: '',
        headers: {},
        body,
        isBase64Encoded: false,
        requestContext: { http: { method: request.method ?? 'GET' } },
      };
      const object = (JSON.parse(body) as { request?: { object?: { metadata?: { name?: string } } } }).request
        ?.object;
      if (object?.metadata?.name !== undefined) reviewed.push(object.metadata.name);
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
  unhooked = await createTestNamespace('unhooked');
  ns = await createTestNamespace('mutate');
  pkiDir = await mkdtemp(join(tmpdir(), 'anex-mutate-'));
  const pki = await generatePki(pkiDir);
  server = await serve({
    cert: await readFile(pki.servingCert, 'utf8'),
    key: await readFile(pki.servingKey, 'utf8'),
  });
  const { port } = server.address() as AddressInfo;
  const { objects } = buildManifests({
    version: '0.0.0-test',
    namespace: unhooked.name,
    nodeNames: root.settings.nodeNames,
    webhookUrl: `https://127.0.0.1:${port}/admit/${TOKEN}`,
  });
  const config = objects.find((o) => o.kind === 'MutatingWebhookConfiguration') as KubeObject & {
    webhooks: { clientConfig: Record<string, string> }[];
  };
  config.metadata.name = webhookName;
  const caBundle = (await readFile(pki.caCert)).toString('base64');
  for (const webhook of config.webhooks) webhook.clientConfig.caBundle = caBundle;
  await admin
    .makeApiClient(AdmissionregistrationV1Api)
    .createMutatingWebhookConfiguration({ body: config as never });
});

afterAll(async () => {
  await admin
    ?.makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name: webhookName })
    .catch(() => undefined);
  await ns?.remove();
  await unhooked?.remove();
  await new Promise((resolve) => server?.close(resolve));
  if (pkiDir !== undefined) await rm(pkiDir, { recursive: true, force: true });
});

function aPod(name: string, nodeSelector: Record<string, string>, tolerations?: V1Toleration[]): V1Pod {
  return {
    metadata: { name },
    spec: {
      nodeSelector,
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'example/trainer:1' }],
      ...(tolerations === undefined ? {} : { tolerations }),
    },
  };
}

/** The NoExecute tolerations of the outage keys, as stored. */
function outageTolerations(pod: V1Pod): V1Toleration[] {
  return (pod.spec?.tolerations ?? []).filter((t) => t.key === UNREACHABLE || t.key === NOT_READY);
}

const PERMANENT = [
  { key: NOT_READY, operator: 'Exists', effect: 'NoExecute' },
  { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
];

describe('mutating webhook on a real API server', () => {
  it('stores an anex pod with both outage tolerations and no tolerationSeconds', async () => {
    // The API server picks up a new webhook configuration within a moment: retry until it does.
    const stored = await eventually(
      async () => {
        const name = `train-${randomBytes(2).toString('hex')}`;
        const pod = await ns.core.createNamespacedPod({
          namespace: ns.name,
          body: aPod(name, { 'node-provider': 'vastai' }),
        });
        return reviewed.includes(name) ? pod : undefined;
      },
      { what: 'the API server calling the anex mutating webhook', timeoutMs: 30_000 },
    );
    expect(outageTolerations(stored)).toEqual(PERMANENT);
  });

  it("keeps the user's other tolerations and makes their timed outage one permanent", async () => {
    const gpu = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
    const stored = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aPod('own', { 'node-provider': 'runpod' }, [
        gpu,
        { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 900 },
      ]),
    });
    expect(stored.spec?.tolerations).toEqual([gpu, PERMANENT[1], PERMANENT[0]]);
  });

  it('leaves an ordinary pod alone (never called; the API server’s 300 s defaults stay)', async () => {
    const stored = await ns.core.createNamespacedPod({
      namespace: ns.name,
      body: aPod('plain', { 'kubernetes.io/os': 'linux' }),
    });
    expect(reviewed).not.toContain('plain');
    expect(outageTolerations(stored).map((t) => t.tolerationSeconds)).toEqual([300, 300]);
  });
});

describe("local mode's repair (no webhook) on a real API server", () => {
  const repair = () =>
    outageRepair({
      kubeConfig: admin,
      nodeSelectorKey: 'node-provider',
      nodeSelectorValues: ['vastai', 'runpod'],
    });

  it('makes the defaulted tolerations of an existing pod permanent, through an update the API server accepts', async () => {
    const created = await unhooked.core.createNamespacedPod({
      namespace: unhooked.name,
      body: aPod('later', { 'node-provider': 'vastai' }),
    });
    expect(outageTolerations(created).map((t) => t.tolerationSeconds)).toEqual([300, 300]);
    expect(await repair().repair({ namespace: unhooked.name, name: 'later' })).toBe('patched');
    const stored = await unhooked.core.readNamespacedPod({ namespace: unhooked.name, name: 'later' });
    expect(outageTolerations(stored)).toEqual(PERMANENT);
    expect(await repair().repair({ namespace: unhooked.name, name: 'later' })).toBe('unchanged');
  });

  it("keeps a user's toleration of another shape (operator unset), dropping only its seconds", async () => {
    await unhooked.core.createNamespacedPod({
      namespace: unhooked.name,
      body: aPod('shaped', { 'node-provider': 'runpod' }, [
        { key: UNREACHABLE, effect: 'NoExecute', tolerationSeconds: 30 },
      ]),
    });
    expect(await repair().repair({ namespace: unhooked.name, name: 'shaped' })).toBe('patched');
    const stored = await unhooked.core.readNamespacedPod({ namespace: unhooked.name, name: 'shaped' });
    expect(outageTolerations(stored)).toEqual([{ key: UNREACHABLE, effect: 'NoExecute' }, PERMANENT[0]]);
  });

  it('leaves pods that are not anex pods, and answers gone for a missing one', async () => {
    await unhooked.core.createNamespacedPod({ namespace: unhooked.name, body: aPod('other', {}) });
    expect(await repair().repair({ namespace: unhooked.name, name: 'other' })).toBe('not-anex');
    expect(await repair().repair({ namespace: unhooked.name, name: 'missing' })).toBe('gone');
  });
});
