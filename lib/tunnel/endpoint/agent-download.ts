import { agentScript } from '../agent/script.ts';
import { fail } from './http.ts';
import type { AgentResponse } from './types.ts';

const ROUTE = /^\/v1\/agent\/(amd64|arm64)$/;

/**
 * `GET|HEAD /v1/agent/<amd64|arm64>`: the agent the launch stub downloads (lib/tunnel/agent/stub.ts).
 * No authentication: the bytes are public, and the stub checks them against the SHA-256 baked
 * into its own text before running anything.
 * @returns undefined when the path is not this route
 */
export function serveAgent(method: string, pathname: string): AgentResponse | undefined {
  if (!pathname.startsWith('/v1/agent/')) return undefined;
  if (!ROUTE.test(pathname))
    return fail(404, `no such agent: ${pathname} (served: /v1/agent/amd64, /v1/agent/arm64)`);
  const verb = method.toUpperCase();
  if (verb !== 'GET' && verb !== 'HEAD') {
    return {
      ...fail(405, `${method} is not allowed on ${pathname}`),
      headers: { allow: 'GET, HEAD', 'content-type': 'application/json' },
    };
  }
  const body = agentScript();
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' },
    body: verb === 'HEAD' ? '' : body,
  };
}
