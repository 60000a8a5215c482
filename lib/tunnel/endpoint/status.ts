import { z } from 'zod';
import { secretMatchesHash } from '../tokens.ts';
import { POD_UID } from './bootstrap.ts';
import { bearer, fail, json, parseBody } from './http.ts';
import { withinLimit } from './rate-limit.ts';
import type { AgentEndpointDeps, AgentRequest, AgentResponse, StatusReport } from './types.ts';

/** docs/agent-protocol.md "Status reports"; bounds keep a hostile agent from writing much. */
const StatusBody = z
  .strictObject({
    podUid: POD_UID,
    state: z.enum(['started', 'exited', 'failed', 'ready', 'unhealthy', 'evicted']),
    exitCode: z.number().int().min(0).max(255).optional(),
    reason: z.string().max(1000).optional(),
    restartCount: z.number().int().min(0).max(1_000_000).optional(),
    restartInSeconds: z.number().int().min(0).max(86_400).optional(),
    ready: z.boolean().optional(),
    probe: z.enum(['startup', 'readiness', 'liveness']).optional(),
    /** protocol 4: the init container or sidecar the report is about (absent: the app container) */
    container: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .max(63)
      .optional(),
    /** protocol 4: the agent's words for an eviction (kubelet's message) */
    message: z.string().max(1000).optional(),
  })
  .refine((b) => b.state !== 'exited' || b.exitCode !== undefined, {
    message: 'exited needs exitCode',
    path: ['exitCode'],
  })
  .refine((b) => b.state !== 'ready' || b.ready !== undefined, {
    message: 'ready needs ready (true or false)',
    path: ['ready'],
  })
  .refine((b) => b.state !== 'unhealthy' || b.probe !== undefined, {
    message: 'unhealthy needs probe (startup, readiness or liveness)',
    path: ['probe'],
  })
  .refine((b) => b.state !== 'evicted' || b.message !== undefined, {
    message: 'evicted needs message',
    path: ['message'],
  })
  .refine((b) => b.restartInSeconds === undefined || b.state === 'exited', {
    message: 'restartInSeconds belongs to exited only',
    path: ['restartInSeconds'],
  });

/** Checks the per-pod bearer credential against its stored hash (constant time). */
async function authorized(request: AgentRequest, podUid: string, deps: AgentEndpointDeps): Promise<boolean> {
  const credential = bearer(request);
  const hash = await deps.backend.getStatusCredentialHash(podUid);
  return credential !== undefined && hash !== undefined && secretMatchesHash(credential, hash);
}

/** POST /v1/status: the agent reports started / exited(code) / failed(reason). */
export async function handleStatus(request: AgentRequest, deps: AgentEndpointDeps): Promise<AgentResponse> {
  const body = parseBody(request, StatusBody);
  if (!body.ok) return body.response;
  const { podUid, state, ...rest } = body.value;
  const key = `status:${podUid}`;
  if (!(await withinLimit(deps, key, 'before-auth'))) return fail(429, 'too many requests for this pod');
  if (!(await authorized(request, podUid, deps))) {
    deps.logger.warn('status report with a wrong or missing credential', { podUid });
    return fail(401, 'missing or wrong status credential for this pod');
  }
  if (!(await withinLimit(deps, key, 'after-auth'))) return fail(429, 'too many requests for this pod');
  const report: StatusReport = { state };
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) Object.assign(report, { [key]: value });
  }
  await deps.backend.recordStatus(podUid, report, { now: deps.now() });
  deps.logger.info('agent status', {
    podUid,
    state,
    exitCode: report.exitCode,
    restartCount: report.restartCount,
    restartInSeconds: report.restartInSeconds,
  });
  return json(200, { recorded: true, ...(await deps.backend.liveness(podUid)) });
}

/**
 * GET /v1/pod-alive?podUid=…: the agent's dead-man's switch asks whether to keep running.
 * `alive: false` tells it to stop its workload within `graceSeconds` (preStop, SIGTERM,
 * SIGKILL) and exit so the provider stops billing.
 */
export async function handlePodAlive(
  request: AgentRequest,
  query: URLSearchParams,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const podUid = POD_UID.safeParse(query.get('podUid') ?? '');
  if (!podUid.success) return fail(400, 'query parameter podUid must be a pod UID');
  const key = `alive:${podUid.data}`;
  if (!(await withinLimit(deps, key, 'before-auth'))) return fail(429, 'too many requests for this pod');
  if (!(await authorized(request, podUid.data, deps))) {
    return fail(401, 'missing or wrong status credential for this pod');
  }
  if (!(await withinLimit(deps, key, 'after-auth'))) return fail(429, 'too many requests for this pod');
  return json(200, await deps.backend.liveness(podUid.data));
}
