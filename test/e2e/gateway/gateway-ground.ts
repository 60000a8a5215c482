import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ManagedProcess,
  type ProcessScope,
  waitUntil,
} from '../../../lib/local/control-plane/processes.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import type { AgentEndpointDeps } from '../../../lib/tunnel/endpoint/types.ts';
import { wstunnelBinary } from '../../support/agent-build.ts';
import { type NetnsGround, run } from '../../support/netns.ts';

/**
 * What the gateway e2e files share (gateway.test.ts, machines.test.ts): the test PKI, the
 * agent endpoint over https for the gateway's peer sync, the stand-in services in a namespace,
 * and the real gateway.sh and its wstunnel server in the gateway namespace.
 */

export const GATEWAY_SCRIPT = fileURLToPath(
  new URL('../../../lib/tunnel/gateway/gateway.sh', import.meta.url),
);
const SERVICES = fileURLToPath(new URL('./netns-services.ts', import.meta.url));
export const WIREGUARD_PORT = 51820;

/**
 * A WireGuard interface name of its own for one ground (≤ 15 characters, IFNAMSIZ). The
 * interface lives in the ground's network namespace, but wireguard-go's control socket
 * (/var/run/wireguard/<name>.sock) is in the shared file system: two grounds on one machine
 * with the same name refuse each other ("UAPI listen error: unix socket in use").
 */
export function wireguardInterfaceName(): string {
  return `wg-${randomBytes(4).toString('hex')}`;
}
export const WSTUNNEL_PORT = 8443;

export interface TestPki {
  ca: string;
  cert: string;
  key: string;
}

/** A CA and one serving certificate for the given IPs (the endpoint's and the wstunnel server's). */
export function issueCertificate(dir: string, ips: string[]): TestPki {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-keyout',
    caKey,
    '-out',
    ca,
    '-subj',
    '/CN=anex-gateway-test-ca',
  ]);
  run('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=anex-gateway-test']);
  writeFileSync(
    ext,
    `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    cert,
    '-extfile',
    ext,
  ]);
  return { ca, cert, key };
}

/** Stand-in services (netns-services.ts) in `role`'s namespace, once they print `ready`. */
export async function startServices(
  scope: ProcessScope,
  netns: NetnsGround,
  role: string,
  name: string,
  spec: unknown,
): Promise<ManagedProcess> {
  const child = scope.spawn({
    name,
    ...netns.argv(role, [process.execPath, SERVICES, JSON.stringify(spec)]),
  });
  await waitUntil(async () => readFileSync(child.logPath, 'utf8').includes('ready\n'), {
    what: name,
    timeoutMs: 20_000,
    process: child,
  });
  return child;
}

/** The agent endpoint over https (the gateway syncs over https only) on `host`. */
export async function serveHttps(pki: TestPki, deps: AgentEndpointDeps, host: string): Promise<Server> {
  const server = createServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      void handleAgentRequest(
        { method: req.method ?? 'GET', path: req.url ?? '/', headers, body },
        deps,
      ).then((answer) => res.writeHead(answer.status, answer.headers).end(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return server;
}

/** Closes the https endpoint and every connection the gateway keeps open; never throws. */
export async function closeHttps(server: Server | undefined): Promise<void> {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
}

/** How many syncs the gateway loop has applied (its state directory's `syncs` file). */
export function gatewaySyncs(stateDir: string): number {
  try {
    return Number(readFileSync(join(stateDir, 'syncs'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * Writes the gateway's secrets (WireGuard private key, peers token) into `scope.dir`, starts
 * the real gateway.sh in the `gw` namespace with `env` over them, and waits for its first sync.
 */
export async function startGateway(
  scope: ProcessScope,
  netns: NetnsGround,
  secrets: { privateKey: string; token: string },
  env: Record<string, string | undefined>,
): Promise<ManagedProcess> {
  writeFileSync(join(scope.dir, 'wg-private-key'), `${secrets.privateKey}\n`, { mode: 0o600 });
  writeFileSync(join(scope.dir, 'peers-token'), secrets.token, { mode: 0o600 });
  const stateDir = env.ANEX_STATE_DIR ?? '';
  const gateway = scope.spawn({ name: 'gateway', ...netns.argv('gw', ['sh', GATEWAY_SCRIPT]), env });
  await waitUntil(async () => gatewaySyncs(stateDir) >= 1, {
    what: 'the gateway’s first sync',
    timeoutMs: 30_000,
    process: gateway,
  });
  return gateway;
}

/** The gateway's wstunnel server on `publicIp`, forwarding to its WireGuard port only. */
export function startGatewayWstunnel(
  scope: ProcessScope,
  netns: NetnsGround,
  pki: TestPki,
  publicIp: string,
  prefix: string,
): ManagedProcess {
  return scope.spawn({
    name: 'gateway-wstunnel',
    ...netns.argv('gw', [
      wstunnelBinary(),
      'server',
      '--restrict-to',
      `127.0.0.1:${WIREGUARD_PORT}`,
      '--tls-certificate',
      pki.cert,
      '--tls-private-key',
      pki.key,
      `wss://${publicIp}:${WSTUNNEL_PORT}`,
    ]),
    env: { PATH: process.env.PATH, WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX: prefix },
  });
}
