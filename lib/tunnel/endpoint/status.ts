import { z } from 'zod';
import { secretMatchesHash } from '../tokens.ts';
import { authFailed } from './auth-failures.ts';
import { POD_UID } from './bootstrap.ts';
import { bearer, fail, json, parseBody } from './http.ts';
import { preAuthKey, withinLimit } from './rate-limit.ts';
import type {
  AgentEndpointDeps,
  AgentRequest,
  AgentResponse,
  AuthFailureReason,
  StatusReport,
} from './types.ts';

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

/**
 * Checks the bearer credential against the current attempt's hash (constant time): the pod
 * record keeps only that one and drops it in the write that ends the attempt (ADR 0021), so a
 * credential of an ended or replaced attempt is refused. @returns why it is refused, if it is.
 */
export async function agentRefusal(
  request: AgentRequest,
  podUid: string,
  deps: AgentEndpointDeps,
): Promise<AuthFailureReason | undefined> {
  const credential = bearer(request);
  if (credential === undefined) return 'credential-missing';
  const hash = await deps.backend.getStatusCredentialHash(podUid);
  if (hash === undefined) return 'credential-revoked';
  return secretMatchesHash(credential, hash) ? undefined : 'credential-wrong';
}

/** Longest host-supplied text kept (a pod condition's message, an event's note). */
export const HOST_TEXT_MAX = 200;

/**
 * Text the host wrote (a failure reason, an eviction message): untrusted (L6). Control and
 * format characters become spaces, runs of spaces one, and it is cut to {@link HOST_TEXT_MAX}
 * characters; callers label it as reported by the host.
 */
export function hostText(text: string): string {
  const flat = text
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...flat];
  return chars.length <= HOST_TEXT_MAX ? flat : `${chars.slice(0, HOST_TEXT_MAX - 1).join('')}…`;
}

/** POST /v1/status: the agent reports started / exited(code) / failed(reason). */
export async function handleStatus(request: AgentRequest, deps: AgentEndpointDeps): Promise<AgentResponse> {
  const body = parseBody(request, StatusBody);
  if (!body.ok) return body.response;
  const { podUid, state, ...rest } = body.value;
  const key = `status:${podUid}`;
  if (!(await withinLimit(deps, preAuthKey(request, 'status', podUid), 'before-auth')))
    return fail(429, 'too many requests for this pod');
  const refused = await agentRefusal(request, podUid, deps);
  if (refused !== undefined) {
    authFailed(deps, { reason: refused, route: '/v1/status', podUid });
    return fail(401, "missing or wrong status credential for this pod's current attempt");
  }
  if (!(await withinLimit(deps, key, 'after-auth'))) return fail(429, 'too many requests for this pod');
  const report: StatusReport = { state };
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) Object.assign(report, { [key]: value });
  }
  // The host's words reach pod conditions and events: made harmless and short first (L6).
  if (report.reason !== undefined) report.reason = hostText(report.reason);
  if (report.message !== undefined) report.message = hostText(report.message);
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
  if (!(await withinLimit(deps, preAuthKey(request, 'alive', podUid.data), 'before-auth')))
    return fail(429, 'too many requests for this pod');
  const refused = await agentRefusal(request, podUid.data, deps);
  if (refused !== undefined) {
    authFailed(deps, { reason: refused, route: '/v1/pod-alive', podUid: podUid.data });
    return fail(401, "missing or wrong status credential for this pod's current attempt");
  }
  if (!(await withinLimit(deps, key, 'after-auth'))) return fail(429, 'too many requests for this pod');
  return json(200, await deps.backend.liveness(podUid.data));
}
