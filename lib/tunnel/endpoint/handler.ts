import { serveAgent } from './agent-download.ts';
import { handleBootstrap } from './bootstrap.ts';
import { fail, splitPath } from './http.ts';
import { handleGetLogs, handleSaveLogs } from './logs.ts';
import { handlePeers } from './peers.ts';
import { handlePodAlive, handleStatus } from './status.ts';
import type { AgentEndpointDeps, AgentRequest, AgentResponse } from './types.ts';

type Route = (
  request: AgentRequest,
  query: URLSearchParams,
  deps: AgentEndpointDeps,
) => Promise<AgentResponse>;

const ROUTES: Readonly<Record<string, Readonly<Record<string, Route>>>> = {
  '/v1/bootstrap': { POST: (request, _query, deps) => handleBootstrap(request, deps) },
  '/v1/status': { POST: (request, _query, deps) => handleStatus(request, deps) },
  '/v1/pod-alive': { GET: handlePodAlive },
  '/v1/peers': { GET: handlePeers },
  '/v1/logs': { POST: (request, _query, deps) => handleSaveLogs(request, deps), GET: handleGetLogs },
};

/**
 * The agent endpoint as a pure function: request in, response out, effects only through
 * `deps`. Unexpected failures become a 500 without details (the message could carry state);
 * the error kind is logged for operators.
 */
export async function handleAgentRequest(
  request: AgentRequest,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const { pathname, query } = splitPath(request.path);
  const agent = await serveAgent(request.method, pathname, deps.agentDownload).catch(() =>
    fail(503, 'the agent download is temporarily unavailable; retry later'),
  );
  if (agent !== undefined) return agent;
  const methods = ROUTES[pathname];
  if (!methods) return fail(404, `no such route: ${pathname}`);
  const route = methods[request.method.toUpperCase()];
  if (!route) {
    return {
      ...fail(405, `${request.method} is not allowed on ${pathname}`),
      headers: { allow: Object.keys(methods).join(', '), 'content-type': 'application/json' },
    };
  }
  try {
    return await route(request, query, deps);
  } catch (error) {
    const kind = error && typeof error === 'object' && 'kind' in error ? String(error.kind) : 'unexpected';
    deps.logger.warn('agent request failed', {
      route: pathname,
      kind,
      name: error instanceof Error ? error.name : typeof error,
    });
    const retryable =
      kind === 'unavailable' || kind === 'conflict' || kind === 'capacity' || kind === 'timeout';
    return fail(retryable ? 503 : 500, retryable ? 'temporarily unavailable; retry later' : 'internal error');
  }
}
