import type { Arch } from '../pins.ts';
import { fail } from './http.ts';
import type { AgentResponse } from './types.ts';

const ROUTE = /^\/v1\/agent\/(amd64|arm64)$/;

/**
 * Where the agent binary of one architecture is downloaded from: a URL the stub is redirected
 * to (local mode: this endpoint's own `/v1/binaries/agent/<arch>`; the stack: a presigned S3
 * URL).
 */
export type AgentDownload = (arch: Arch) => Promise<string>;

/**
 * `GET|HEAD /v1/agent/<amd64|arm64>`: the agent the launch stub downloads (lib/tunnel/agent/stub.ts).
 * No authentication: the bytes are public, and the stub checks them against the SHA-256 baked
 * into its own text before running anything — so a redirect (curl -L, wget) to wherever the
 * bytes live changes nothing about what runs.
 * @returns undefined when the path is not this route
 */
export async function serveAgent(
  method: string,
  pathname: string,
  download?: AgentDownload,
): Promise<AgentResponse | undefined> {
  if (!pathname.startsWith('/v1/agent/')) return undefined;
  const match = ROUTE.exec(pathname);
  if (match === null)
    return fail(404, `no such agent: ${pathname} (served: /v1/agent/amd64, /v1/agent/arm64)`);
  const verb = method.toUpperCase();
  if (verb !== 'GET' && verb !== 'HEAD') {
    return {
      ...fail(405, `${method} is not allowed on ${pathname}`),
      headers: { allow: 'GET, HEAD', 'content-type': 'application/json' },
    };
  }
  if (download === undefined) {
    return fail(503, 'this endpoint has no agent binary to serve (its build is not configured)');
  }
  const location = await download(match[1] as Arch);
  return { status: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}
