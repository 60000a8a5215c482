import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthenticationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../support/index.ts';
import { podReady, type ServicesGround, startServicesGround } from './services-ground.ts';

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
