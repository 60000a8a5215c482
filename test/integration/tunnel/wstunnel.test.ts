import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../lib/local/control-plane/ports.ts';
import { createProcessScope, waitUntil } from '../../../lib/local/control-plane/processes.ts';
import { wstunnelClientCommand } from '../../../lib/tunnel/wstunnel.ts';
import { wstunnelBinary } from '../../support/agent-build.ts';
import { startWstunnelServer } from '../../support/wstunnel.ts';

/**
 * anex's wstunnel (lib/tunnel/agent-build/wstunnel, ADR 0009) as a black box: the real server,
 * the real client started with the command line lib/tunnel/wstunnel.ts renders, TLS from a
 * throwaway CA. Plus the package's own Go tests (protocol details: JWT claims, framing).
 */

const run = promisify(execFile);
const PREFIX = `prefix-${randomBytes(12).toString('hex')}`;
const scope = createProcessScope('anex-wstunnel-test');
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await scope.close();
});

/** A UDP echo on 127.0.0.1: the stand-in for the gateway's WireGuard socket. */
async function udpEcho(): Promise<{ port: number; received: () => number }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  let received = 0;
  socket.on('message', (message, from) => {
    received += 1;
    socket.send(Buffer.concat([Buffer.from('echo:'), message]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, received: () => received };
}

/** Sends `text` to the client's UDP port until an answer comes back (the WebSocket may still be dialling). */
async function roundTrip(clientPort: number, text: string, timeoutMs = 15_000): Promise<string | undefined> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const answer = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    socket.send(text, clientPort, '127.0.0.1');
    const got = await Promise.race([
      answer,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 300)),
    ]);
    if (got !== undefined) return got;
  }
  return undefined;
}

/** An unsigned-enough JWT as upstream's client makes it (the server does not verify it). */
function tunnelJwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', randomBytes(16)).update(body).digest('base64url')}`;
}

/** The HTTP status a WebSocket upgrade to the server gets (101 = accepted). */
function upgradeStatus(port: number, caFile: string, path: string, jwt: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      servername: 'localhost',
      port,
      path,
      ca: readFileSync(caFile, 'utf8'),
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': `v1, authorization.bearer.${jwt}`,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('anex wstunnel', () => {
  it('passes its Go tests (JWT claims, -L parsing, framing, refusals)', async () => {
    const dir = fileURLToPath(new URL('../../../lib/tunnel/agent-build', import.meta.url));
    const { stdout } = await run('go', ['test', '-count=1', './wstunnel/'], { cwd: dir, timeout: 300_000 });
    expect(stdout).toMatch(/^ok\s+anex\.local\/agent-build\/wstunnel/m);
  });

  it('carries datagrams both ways between the agent-side client and the gateway-side server, over verified TLS', async () => {
    const echo = await udpEcho();
    const remote = `127.0.0.1:${echo.port}`;
    const server = await startWstunnelServer(scope, { restrictTo: remote, pathPrefix: PREFIX });
    const localPort = await freePort();
    const command = wstunnelClientCommand({ serverUrl: server.url, localPort, remote });
    const client = scope.spawn({
      name: 'wstunnel-client',
      command: wstunnelBinary(),
      args: command.args,
      env: {
        PATH: process.env.PATH,
        WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX: PREFIX,
        SSL_CERT_FILE: server.caFile,
      },
    });
    for (const text of ['first', 'second', 'x'.repeat(1400)]) {
      expect(await roundTrip(localPort, text)).toBe(`echo:${text}`);
    }
    expect(echo.received()).toBeGreaterThanOrEqual(3);
    expect(client.isRunning()).toBe(true);
    for (const log of [client.logTail(200), server.process.logTail(200)]) expect(log).not.toContain(PREFIX);
  });

  it.each([
    ['a wrong path prefix: 400', '/not-the-prefix/events', { r: '127.0.0.1', rp: 9 }, 400],
    ['no JWT destination: 400', `/${PREFIX}/events`, undefined, 400],
    ['a destination outside --restrict-to: 403', `/${PREFIX}/events`, { r: '127.0.0.1', rp: 22 }, 403],
    ['the same port under another name: 403', `/${PREFIX}/events`, { r: 'localhost', rp: 9 }, 403],
  ] as const)('refuses an upgrade with %s', async (_label, path, target, status) => {
    const server = await startWstunnelServer(scope, { restrictTo: '127.0.0.1:9', pathPrefix: PREFIX });
    const jwt =
      target === undefined
        ? 'not-a-jwt'
        : tunnelJwt({ id: randomUUID(), p: { Udp: { timeout: null } }, r: target.r, rp: target.rp });
    expect(await upgradeStatus(server.port, server.caFile, path, jwt)).toBe(status);
  });

  it('refuses a reverse tunnel even to an allowed destination', async () => {
    const server = await startWstunnelServer(scope, { restrictTo: '127.0.0.1:9', pathPrefix: PREFIX });
    const jwt = tunnelJwt({ id: randomUUID(), p: { ReverseUdp: { timeout: null } }, r: '127.0.0.1', rp: 9 });
    expect(await upgradeStatus(server.port, server.caFile, `/${PREFIX}/events`, jwt)).toBe(403);
  });

  it('accepts the upgrade upstream’s client would send for an allowed destination (HTTP 101)', async () => {
    const server = await startWstunnelServer(scope, { restrictTo: '127.0.0.1:9', pathPrefix: PREFIX });
    const jwt = tunnelJwt({ id: randomUUID(), p: { Udp: { timeout: null } }, r: '127.0.0.1', rp: 9 });
    expect(await upgradeStatus(server.port, server.caFile, `/${PREFIX}/events`, jwt)).toBe(101);
  });

  it('client: sends nothing to a server whose certificate it cannot verify', async () => {
    const echo = await udpEcho();
    const server = await startWstunnelServer(scope, {
      restrictTo: `127.0.0.1:${echo.port}`,
      pathPrefix: PREFIX,
    });
    const localPort = await freePort();
    const command = wstunnelClientCommand({
      serverUrl: server.url,
      localPort,
      remote: `127.0.0.1:${echo.port}`,
    });
    // No SSL_CERT_FILE: the throwaway CA is not trusted.
    const client = scope.spawn({
      name: 'wstunnel-untrusting-client',
      command: wstunnelBinary(),
      args: command.args,
      env: {
        PATH: process.env.PATH,
        WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX: PREFIX,
        SSL_CERT_FILE: '/nonexistent',
      },
    });
    expect(await roundTrip(localPort, 'should not arrive', 3_000)).toBeUndefined();
    expect(echo.received()).toBe(0);
    await waitUntil(async () => /certificate|x509|tls/i.test(client.logTail(50)), {
      what: 'the client logging the TLS verification failure',
      timeoutMs: 10_000,
    });
  });

  it.each([
    [
      'without --restrict-to',
      ['server', 'ws://127.0.0.1:0'],
      { WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX: PREFIX },
      'restrict-to',
    ],
    ['without a path prefix', ['server', '--restrict-to', '127.0.0.1:9', 'ws://127.0.0.1:0'], {}, 'prefix'],
    ['with an unknown flag', ['client', '--bogus'], {}, 'bogus'],
    ['with a malformed -L', ['client', '-L', 'tcp:/x', 'wss://localhost:1'], {}, '-L'],
  ])('exits 2 %s, naming the problem', async (_label, args, env, message) => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(wstunnelBinary(), args, { env: { PATH: process.env.PATH, ...env } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
      });
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain(PREFIX);
  });
});
