import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, AuthenticationV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeCluster } from '../../../lib/kube/kube-cluster.ts';
import {
  DEFAULT_FORWARDER_AUDIENCE,
  DEFAULT_FORWARDER_SERVICE_ACCOUNT,
  FORWARDER_POD_UID_LABEL,
} from '../../../lib/reconcile/forwarders.ts';
import { eventually } from '../../support/index.ts';
import { HTTP_PORT, UNDECLARED_PORT } from './kubectl-ground.ts';
import {
  type AnexDeployment,
  forwardOnce,
  forwardUntilAddressed,
  KUBELET_URL,
  podReady,
  type ServicesGround,
  startAnexDeployment,
  startServicesGround,
} from './services-ground.ts';

/**
 * Issue #15 item 3 "Done when", ADR 0024, end to end: a Service reaches an anex pod. The
 * ground (services-ground.ts) is the kubectl ground plus an ordinary node with an emulated
 * kubelet and an emulated kube-proxy for an ordinary client pod; the first block proves those
 * emulations do what the cluster's node agents do, so the product's cases rest on them.
 */

let ground: ServicesGround;

beforeAll(async () => {
  ground = await startServicesGround();
}, 480_000);

afterAll(async () => {
  await ground?.stop();
});

function the(): ServicesGround {
  if (ground === undefined) throw new Error('the services ground did not start');
  return ground;
}

/**
 * An HTTP server on 0.0.0.0:<port> answering `<body> uid=<its uid> token=<bytes of the token file>`,
 * so a reply shows the user it runs as and that the projected token is mounted for it.
 */
const ECHO = `use IO::Socket::INET;
my ($port, $body, $tokenFile) = @ARGV;
my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 16, ReuseAddr => 1) or die "listen $port: $!";
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/ }
  my $n = -s $tokenFile; $n = -1 unless defined $n;
  my $text = "$body uid=$< token=$n";
  print $c "HTTP/1.0 200 OK\\r\\nContent-Length: " . (length($text) + 1) . "\\r\\nConnection: close\\r\\n\\r\\n$text\\n";
  close $c;
}`;

describe('the ground: an ordinary node, its emulated kubelet and kube-proxy', () => {
  const mark = randomBytes(4).toString('hex');
  const audience = `e2e-${mark}`;
  let uid = '';

  beforeAll(async () => {
    const { base, namespace } = the();
    await base.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'echo' } } });
    const created = await base.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'echo', labels: { app: `echo-${mark}` } },
        spec: {
          serviceAccountName: 'echo',
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 1,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
          volumes: [
            {
              name: 'token',
              projected: {
                sources: [{ serviceAccountToken: { audience, expirationSeconds: 3600, path: 'token' } }],
              },
            },
          ],
          containers: [
            {
              name: 'echo',
              image: 'debian:bookworm-slim',
              command: ['perl', '-e', ECHO, '8080', `echo-${mark}`, '/var/run/secrets/anex-e2e/token'],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets/anex-e2e', readOnly: true }],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    });
    uid = created.metadata?.uid ?? '';
    await base.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'echo' },
        spec: { selector: { app: `echo-${mark}` }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    await base.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'nobody' },
        spec: { selector: { app: `nobody-${mark}` }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
  }, 60_000);

  it('the real scheduler binds a pod to the node; the kubelet runs it as its user, Ready, with its own IP', async () => {
    const { base, namespace, node } = the();
    const pod = await eventually(
      async () => {
        const read = await base.core.readNamespacedPod({ namespace, name: 'echo' });
        return podReady(read) ? read : undefined;
      },
      { what: `echo Ready (${node.errors().join('; ')})`, timeoutMs: 60_000 },
    );
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.status?.podIP).toBe(node.pods().get(uid)?.ip);
    const reply = await the().curl(`http://${pod.status?.podIP}:8080/`);
    expect(reply.body).toMatch(new RegExp(`^echo-${mark} uid=65532 token=\\d{3,}\n$`));
  });

  it('the projected token is bound to the pod: TokenReview with its audience names the pod', async () => {
    const { base, node } = the();
    const dir = node.pods().get(uid)?.volumes.token ?? '';
    const token = readFileSync(join(dir, 'token'), 'utf8');
    const review = await base.kubeConfig.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token, audiences: [audience] } },
    });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${the().namespace}:echo`);
    expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['echo']);
    expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([uid]);
  });

  it('kube-proxy: the ClusterIP answers from the client pod through the EndpointSlice', async () => {
    const { base, namespace } = the();
    const service = await base.core.readNamespacedService({ namespace, name: 'echo' });
    const ip = service.spec?.clusterIP ?? '';
    expect(ip).toMatch(/^10\.0\.0\.\d+$/);
    const reply = await eventually(
      async () => {
        const r = await the().curl(`http://${ip}/`, { maxTimeSeconds: 3 });
        return r.code === 0 ? r : undefined;
      },
      { what: `echo's ClusterIP ${ip} answering (rules:\n${the().proxy.rules()})`, timeoutMs: 60_000 },
    );
    expect(reply.body).toMatch(new RegExp(`^echo-${mark} uid=65532`));
  });

  it('kube-proxy: a Service without ready endpoints is refused', async () => {
    const { base, namespace } = the();
    const service = await base.core.readNamespacedService({ namespace, name: 'nobody' });
    const ip = service.spec?.clusterIP ?? '';
    await eventually(async () => the().proxy.rules().includes(`${namespace}/nobody:80`), {
      what: 'the rule of the Service without endpoints',
      timeoutMs: 30_000,
    });
    const reply = await the().curl(`http://${ip}/`, { maxTimeSeconds: 3 });
    expect(reply.code).toBe(7);
  });

  it('deleting the pod: the kubelet kills it, removes its namespace and finishes the deletion', async () => {
    const { base, namespace, node } = the();
    const role = node.pods().get(uid)?.role ?? '';
    expect(base.netns.has(role)).toBe(true);
    await base.core.deleteNamespacedPod({ namespace, name: 'echo' });
    await eventually(
      async () => {
        const left = await base.core.listNamespacedPod({ namespace, fieldSelector: 'metadata.name=echo' });
        return left.items.length === 0 ? true : undefined;
      },
      {
        what: 'the echo pod gone',
        timeoutMs: 30_000,
        describe: async () =>
          `${JSON.stringify((await base.core.readNamespacedPod({ namespace, name: 'echo' })).metadata)}; kubelet: ${node.errors().join('; ')}`,
      },
    );
    expect(node.pods().has(uid)).toBe(false);
    expect(base.netns.has(role)).toBe(false);
  });
});

describe('a Service reaches an anex pod through its forwarder (issue #15 item 3, ADR 0024)', () => {
  let anex: AnexDeployment;
  let forwarder: V1Pod;
  let forwarderIp = '';

  beforeAll(async () => {
    anex = await startAnexDeployment(the());
    const { base, namespace } = the();
    for (const [name, targetPort] of [
      ['web', HTTP_PORT],
      ['web-undeclared', UNDECLARED_PORT],
    ] as const) {
      await base.core.createNamespacedService({
        namespace,
        body: {
          metadata: { name },
          spec: { selector: { app: anex.app }, ports: [{ port: 80, targetPort }] },
        },
      });
    }
    forwarder = await forwardUntilAddressed(the(), anex);
    forwarderIp = forwarder.status?.podIP ?? '';
  }, 420_000);

  /** What anex-kubelet and the forwarder logged last (a failure's story). */
  async function logs(): Promise<string> {
    const running = [...the().node.pods().values()].find((p) => p.uid === forwarder.metadata?.uid);
    return `anex-kubelet:\n${the().base.kubelet.logTail(15)}\nforwarder:\n${running?.process.logTail(15) ?? '(not running)'}`;
  }

  /** The Service's ClusterIP once kube-proxy has a ready endpoint rule for it. */
  async function clusterIp(name: string): Promise<string> {
    const { base, namespace, proxy } = the();
    const service = await base.core.readNamespacedService({ namespace, name });
    const ip = service.spec?.clusterIP ?? '';
    await eventually(async () => proxy.rules().includes(`--to-destination ${forwarderIp}:`) || undefined, {
      what: `kube-proxy's rule to the forwarder ${forwarderIp}`,
      timeoutMs: 60_000,
      describe: async () => proxy.rules(),
    });
    return ip;
  }

  it('the product made the forwarder on the ordinary node; its IP is the anex pod’s podIP', async () => {
    const { base, node, namespace } = the();
    expect(forwarder.metadata?.name).toBe(`anex-fwd-${anex.uid}`);
    expect(forwarder.metadata?.namespace).toBe(base.namespace);
    expect(forwarder.spec?.nodeName).toBe(node.name);
    const pod = await base.core.readNamespacedPod({ namespace, name: anex.name });
    expect(pod.spec?.nodeName).toBe(base.nodeName);
    expect(pod.status?.podIP).toBe(forwarderIp);
    expect(pod.status?.podIPs).toEqual([{ ip: forwarderIp }]);
  });

  it('the ClusterIP Service answers curl from an ordinary pod with the workload’s body', async () => {
    const ip = await clusterIp('web');
    const reply = await eventually(
      async () => {
        const r = await the().curl(`http://${ip}/`, { maxTimeSeconds: 5 });
        return r.code === 0 ? r : undefined;
      },
      { what: `the Service web (${ip}) answering`, timeoutMs: 30_000, describe: async () => logs() },
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(`served-${anex.mark}\n`);
  });

  it('the forwarder’s IP answers on the declared port directly', async () => {
    const reply = await the().curl(`http://${forwarderIp}:${HTTP_PORT}/`);
    expect(reply, await logs()).toMatchObject({ code: 0, status: 200, body: `served-${anex.mark}\n` });
  });

  it('a client that half-closes after its request gets the answer (its end reaches the workload)', async () => {
    // An HTTP/1.0 client, `nc -N`, and every tcpSocket probe end their side first: the FIN
    // must travel forwarder → anex-kubelet → tunnel → agent → workload, or the workload's
    // connection waits forever (and a probe's connection stays open on every hop).
    const script = `use IO::Socket::INET; use Socket;
my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], Timeout => 5) or die "connect: $!";
shutdown($s, SHUT_WR); local $/; print scalar <$s>;`;
    const reply = await the().inClient([
      'timeout',
      '15',
      'perl',
      '-e',
      script,
      `${forwarderIp}:${HTTP_PORT}`,
    ]);
    expect(reply.stdout, `exit ${reply.code}\n${await logs()}`).toContain(`served-${anex.mark}`);
  });

  it('a Service port targeting an undeclared port does not answer', async () => {
    const ip = await clusterIp('web-undeclared');
    const reply = await the().curl(`http://${ip}/`, { maxTimeSeconds: 5 });
    // 7: refused (the forwarder does not listen there); never the workload's undeclared server.
    expect(reply.code).toBe(7);
    expect(reply.body).not.toContain('undeclared-');
  });

  it('the forwarder’s IP refuses the undeclared port', async () => {
    const reply = await the().curl(`http://${forwarderIp}:${UNDECLARED_PORT}/`);
    expect(reply.code).toBe(7);
    expect(reply.body).not.toContain('undeclared-');
  });

  describe('anex-kubelet’s /forward route', () => {
    /** A token as the kubelet projects it for the forwarder pod (its audience, bound to it). */
    async function forwarderToken(): Promise<string> {
      const { base } = the();
      const request = await base.core.createNamespacedServiceAccountToken({
        namespace: base.namespace,
        name: DEFAULT_FORWARDER_SERVICE_ACCOUNT,
        body: {
          spec: {
            audiences: [DEFAULT_FORWARDER_AUDIENCE],
            expirationSeconds: 600,
            boundObjectRef: {
              apiVersion: 'v1',
              kind: 'Pod',
              name: forwarder.metadata?.name ?? '',
              uid: forwarder.metadata?.uid ?? '',
            },
          },
        },
      });
      return request.status?.token ?? '';
    }

    const upgrade = ['Connection: Upgrade', 'Upgrade: anex-tcp/1'];

    it('the forwarder’s token for its own pod is switched to the stream (101)', async () => {
      const token = await forwarderToken();
      const reply = await the().curl(`${KUBELET_URL}/forward/${anex.uid}/${HTTP_PORT}`, {
        method: 'POST',
        maxTimeSeconds: 3,
        headers: [...upgrade, `Authorization: Bearer ${token}`],
      });
      expect(reply.status, `${JSON.stringify(reply)}\n${await logs()}`).toBe(101);
    });

    it('the same token for another pod’s uid is refused (403)', async () => {
      const token = await forwarderToken();
      const reply = await the().curl(`${KUBELET_URL}/forward/${randomUUID()}/${HTTP_PORT}`, {
        method: 'POST',
        headers: [...upgrade, `Authorization: Bearer ${token}`],
      });
      expect(reply.status).toBe(403);
    });

    it('no token is refused (401)', async () => {
      const reply = await the().curl(`${KUBELET_URL}/forward/${anex.uid}/${HTTP_PORT}`, {
        method: 'POST',
        headers: upgrade,
      });
      expect(reply.status).toBe(401);
    });
  });

  it('deleting the Deployment: the product deletes the forwarder; nothing is left', async () => {
    const { base, namespace, node } = the();
    const role = [...node.pods().values()].find((p) => p.uid === forwarder.metadata?.uid)?.role ?? '';
    expect(role).not.toBe('');
    await base.kubeConfig
      .makeApiClient(AppsV1Api)
      .deleteNamespacedDeployment({ namespace, name: anex.deployment, propagationPolicy: 'Background' });
    // The garbage collector deletes the ReplicaSet, which deletes the pod (graceful).
    await eventually(
      async () => {
        const pod = await base.core.readNamespacedPod({ namespace, name: anex.name }).catch(() => undefined);
        return pod === undefined || pod.metadata?.deletionTimestamp !== undefined ? true : undefined;
      },
      { what: 'the anex pod being deleted', timeoutMs: 60_000 },
    );
    // The reconciler's part: the machine destroyed, the forwarder deleted, the pod finalized.
    expect(await base.adapter.destroy(anex.machine.instanceId, {})).toBe('destroyed');
    const result = await forwardOnce(the(), anex);
    expect(result.deleted).toEqual([`anex-fwd-${anex.uid}`]);
    const cluster = new KubeCluster({ kubeConfig: base.kubeConfig });
    await cluster.finalizePod({ namespace, name: anex.name, uid: anex.uid });
    await eventually(
      async () => {
        const left = await base.core.listNamespacedPod({
          namespace: base.namespace,
          labelSelector: FORWARDER_POD_UID_LABEL,
        });
        return left.items.length === 0 ? true : undefined;
      },
      { what: 'no forwarder pod left', timeoutMs: 60_000 },
    );
    expect(node.pods().has(forwarder.metadata?.uid ?? '')).toBe(false);
    expect(base.netns.has(role)).toBe(false);
    expect(await base.core.listNamespacedPod({ namespace, labelSelector: `app=${anex.app}` })).toMatchObject({
      items: [],
    });
    base.sim.assertNoInstances();
  });
});
