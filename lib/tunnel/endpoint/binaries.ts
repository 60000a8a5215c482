import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Arch } from '../pins.ts';

/** name → arch → absolute path of a file the endpoint serves as-is (e.g. the self-built wireproxy). */
export type BinaryFiles = Readonly<Record<string, Readonly<Partial<Record<Arch, string>>>>>;

/** `/v1/binaries/<name>/<arch>`: the URL path an agent downloads a served binary from. */
export function binaryPath(name: string, arch: Arch): string {
  return `/v1/binaries/${name}/${arch}`;
}

const ROUTE = /^\/v1\/binaries\/([a-z0-9-]+)\/(amd64|arm64)$/;

/**
 * Serves `GET|HEAD /v1/binaries/<name>/<arch>` from `files`, streaming the file (no size
 * limit, no buffering). No authentication: the bytes are public builds, and the agent
 * verifies them against the SHA-256 it got from the authenticated bootstrap.
 * @returns false when the request is not for this route (the caller handles it)
 */
export function serveBinary(req: IncomingMessage, res: ServerResponse, files: BinaryFiles): boolean {
  const pathname = (req.url ?? '/').split('?')[0] ?? '/';
  if (!pathname.startsWith('/v1/binaries/')) return false;
  const match = ROUTE.exec(pathname);
  const path = match ? files[match[1] as string]?.[match[2] as Arch] : undefined;
  if (path === undefined) {
    reply(res, 404, `no such binary: ${pathname} (served: ${served(files)})`);
    return true;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    reply(res, 405, `${method} is not allowed on ${pathname}`);
    return true;
  }
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    reply(res, 404, `binary ${pathname} is not available on this installation`);
    return true;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    'cache-control': 'no-store',
  });
  if (method === 'HEAD') {
    res.end();
    return true;
  }
  // A read error after the headers can only cut the body short; the agent's checksum catches it.
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
  return true;
}

function served(files: BinaryFiles): string {
  const paths = Object.entries(files).flatMap(([name, arches]) =>
    Object.keys(arches).map((arch) => binaryPath(name, arch as Arch)),
  );
  return paths.length === 0 ? 'none' : paths.join(', ');
}

function reply(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error }));
}
