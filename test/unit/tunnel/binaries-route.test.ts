import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentEndpointServer, serveAgentEndpoint } from '../../../lib/tunnel/endpoint/server.ts';
import { endpointHarness } from '../../support/tunnel.ts';

/** GET /v1/binaries/<name>/<arch> over the real node:http adapter, from files on disk. */
describe('GET /v1/binaries/<name>/<arch>', () => {
  let dir: string;
  let server: AgentEndpointServer;
  // Over 64 KiB so the body arrives in several stream chunks.
  const bytes = Buffer.alloc(200_000, 7);
  bytes.write('\x7fELF', 0, 'latin1');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anex-binaries-'));
    writeFileSync(join(dir, 'wireproxy-linux-amd64'), bytes);
    server = await serveAgentEndpoint({
      port: 0,
      deps: endpointHarness().deps,
      binaries: { wireproxy: { amd64: join(dir, 'wireproxy-linux-amd64'), arm64: join(dir, 'missing') } },
    });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams the file without authentication, byte for byte', async () => {
    const response = await fetch(`${server.url}/v1/binaries/wireproxy/amd64`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
    const body = Buffer.from(await response.arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
  });

  it('answers HEAD with the size and no body', async () => {
    const response = await fetch(`${server.url}/v1/binaries/wireproxy/amd64`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
  });

  it.each([
    ['an unknown name', '/v1/binaries/curl/amd64', 404, 'no such binary'],
    ['an unknown arch', '/v1/binaries/wireproxy/riscv64', 404, 'served: /v1/binaries/wireproxy/amd64'],
    ['a path traversal', '/v1/binaries/wireproxy/..%2f..%2fetc%2fpasswd', 404, 'no such binary'],
    ['a configured file that is missing', '/v1/binaries/wireproxy/arm64', 404, 'not available'],
  ])('refuses %s (%s) with %i', async (_label, path, status, message) => {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toContain(message);
  });

  it('refuses a POST with 405 naming the allowed methods', async () => {
    const response = await fetch(`${server.url}/v1/binaries/wireproxy/amd64`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('leaves the other routes to the handler', async () => {
    const response = await fetch(`${server.url}/v1/bootstrap`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});
