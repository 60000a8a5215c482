import { z } from 'zod';
import { secretMatchesHash } from '../tokens.ts';
import { POD_UID } from './bootstrap.ts';
import { bearer, fail, json, parseBody } from './http.ts';
import { withinLimit } from './rate-limit.ts';
import type { AgentEndpointDeps, AgentRequest, AgentResponse } from './types.ts';

const StatusBody = z
  .strictObject({
    podUid: POD_UID,
    state: z.enum(['started', 'exited', 'failed']),
    exitCode: z.number().int().min(0).max(255).optional(),
    reason: z.string().max(1000).optional(),
  })
  .refine((b) => b.state !== 'exited' || b.exitCode !== undefined, {
    message: 'exited needs exitCode',
    path: ['exitCode'],
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
  const { podUid, state } = body.value;
  const key = `status:${podUid}`;
  if (!(await withinLimit(deps, key, 'before-auth'))) return fail(429, 'too many requests for this pod');
  if (!(await authorized(request, podUid, deps))) {
    deps.logger.warn('status report with a wrong or missing credential', { podUid });
    return fail(401, 'missing or wrong status credential for this pod');
  }
  if (!(await withinLimit(deps, key, 'after-auth'))) return fail(429, 'too many requests for this pod');
  await deps.backend.recordStatus(
    podUid,
    {
      state,
      ...(body.value.exitCode === undefined ? {} : { exitCode: body.value.exitCode }),
      ...(body.value.reason === undefined ? {} : { reason: body.value.reason }),
    },
    { now: deps.now() },
  );
  deps.logger.info('agent status', { podUid, state, exitCode: body.value.exitCode });
  return json(200, { recorded: true, alive: await deps.backend.isPodAlive(podUid) });
}

/**
 * GET /v1/pod-alive?podUid=…: the agent's dead-man's switch asks whether to keep running.
 * `alive: false` tells it to stop its workload and exit so the provider stops billing.
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
  return json(200, { alive: await deps.backend.isPodAlive(podUid.data) });
}
