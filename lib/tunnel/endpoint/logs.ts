import { z } from 'zod';
import { APP_CONTAINER, type LogEntry } from '../../state/store.ts';
import { authFailed } from './auth-failures.ts';
import { POD_UID } from './bootstrap.ts';
import { fail, json, MAX_LOG_BODY_BYTES, parseBody } from './http.ts';
import { gatewayRefusal } from './peers.ts';
import { preAuthKey, withinLimit } from './rate-limit.ts';
import { agentRefusal } from './status.ts';
import type { AgentEndpointDeps, AgentRequest, AgentResponse } from './types.ts';

/**
 * Log tails outlive the machine (ADR 0023 §5): at the end of a run the agent sends the last of
 * its output here, and the kubelet API beside the gateway reads it back once the machine is
 * gone. The text is the user's: it is stored, never logged (only counts are).
 */

/** the agent's buffer keeps 64 KiB of line text per run; a line longer than 16 KiB is cut by the agent */
export const LOG_TEXT_MAX_BYTES = 64 * 1024;
export const LOG_LINE_MAX_BYTES = 16 * 1024;
export const LOG_ENTRIES_MAX = 5000;

/** RFC 3339 with up to nanoseconds, as Go's time.RFC3339Nano writes it (CRI log format). */
const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const CONTAINER = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a container name (a DNS label)')
  .max(63);

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

const Entry = z.strictObject({
  t: z
    .string()
    .regex(RFC3339_NANO, 'must be an RFC 3339 time')
    .refine((t) => Number.isFinite(Date.parse(t)), 'must be an RFC 3339 time'),
  s: z.enum(['stdout', 'stderr']),
  l: z
    .string()
    .refine((l) => bytes(l) <= LOG_LINE_MAX_BYTES, `a line is at most ${LOG_LINE_MAX_BYTES} bytes`),
});

/**
 * The log tail body; bounded so a hostile agent cannot write much. The 80 KiB body limit binds
 * first in practice (an entry costs ≥ 45 bytes of JSON, so 5000 of them never fit); the entry
 * count still holds whatever the body limit becomes.
 */
export const LogsBody = z.strictObject({
  podUid: POD_UID,
  /** an init container or sidecar; absent: the app container */
  container: CONTAINER.optional(),
  run: z.number().int().min(0).max(1_000_000),
  entries: z
    .array(Entry)
    .max(LOG_ENTRIES_MAX)
    .refine(
      (entries) => entries.reduce((sum, e) => sum + bytes(e.l), 0) <= LOG_TEXT_MAX_BYTES,
      `the lines' text is at most ${LOG_TEXT_MAX_BYTES} bytes together`,
    ),
  dropped: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

/**
 * POST /v1/logs: the tail of one ended run, authenticated by the attempt's status credential
 * exactly as /v1/status (limits, refusals and their counting included). A run that is not
 * newer than the stored one (a replay) is answered 200 and changes nothing.
 */
export async function handleSaveLogs(request: AgentRequest, deps: AgentEndpointDeps): Promise<AgentResponse> {
  const body = parseBody(request, LogsBody, MAX_LOG_BODY_BYTES);
  if (!body.ok) return body.response;
  const { podUid, run, dropped } = body.value;
  if (!(await withinLimit(deps, preAuthKey(request, 'logs', podUid), 'before-auth')))
    return fail(429, 'too many requests for this pod');
  const refused = await agentRefusal(request, podUid, deps);
  if (refused !== undefined) {
    authFailed(deps, { reason: refused, route: '/v1/logs', podUid });
    return fail(401, "missing or wrong status credential for this pod's current attempt");
  }
  if (!(await withinLimit(deps, `logs:${podUid}`, 'after-auth')))
    return fail(429, 'too many requests for this pod');
  const container = body.value.container ?? APP_CONTAINER;
  const entries: LogEntry[] = body.value.entries.map((e) => ({ t: e.t, s: e.s, l: e.l }));
  const outcome = await deps.store.saveLogTail(
    podUid,
    container,
    { run, entries, dropped },
    { now: deps.now() },
  );
  deps.logger.info('agent log tail', {
    podUid,
    container: body.value.container ?? '(app)',
    run,
    lines: entries.length,
    dropped,
    outcome,
  });
  return json(200, { saved: outcome === 'saved' });
}

/**
 * GET /v1/logs?pod=<uid>[&container=<name>][&previous=true|false]: a stored tail, for the
 * kubelet API (the gateway's credential, as /v1/peers). `container` absent or empty: the app
 * container (the pod's `spec.containers[0]`, which the agent never names); otherwise an init
 * container or sidecar. Answers `{entries, dropped}` of the current run, or of the one before
 * it with `previous=true`; 404 when none is saved.
 */
export async function handleGetLogs(
  request: AgentRequest,
  query: URLSearchParams,
  deps: AgentEndpointDeps,
): Promise<AgentResponse> {
  const parsed = logsQuery(query);
  if ('error' in parsed) return fail(400, parsed.error);
  const refused = await gatewayRefusal(request, deps, { route: 'logs', what: 'the log tail route' });
  if (refused !== undefined) return refused;
  if (!(await withinLimit(deps, `logs:gateway:${parsed.pod}`, 'after-auth')))
    return fail(429, 'too many requests from the gateway');
  const tail = await deps.store.getLogTail(parsed.pod, parsed.container);
  const run = parsed.previous ? tail?.previous : tail?.current;
  if (run === undefined) {
    const which = parsed.previous ? 'no log tail of the previous run' : 'no log tail';
    const of = parsed.container === APP_CONTAINER ? 'the app container' : `container ${parsed.container}`;
    return fail(404, `${which} saved for pod ${parsed.pod}, ${of}`);
  }
  return json(200, { entries: run.entries, dropped: run.dropped });
}

function logsQuery(
  query: URLSearchParams,
): { pod: string; container: string; previous: boolean } | { error: string } {
  const pod = POD_UID.safeParse(query.get('pod') ?? '');
  if (!pod.success) return { error: 'query parameter pod must be a pod UID' };
  const name = query.get('container') ?? '';
  if (name !== '' && !CONTAINER.safeParse(name).success)
    return { error: 'query parameter container must be a container name (a DNS label)' };
  const previous = query.get('previous') ?? 'false';
  if (previous !== 'true' && previous !== 'false')
    return { error: 'query parameter previous must be true or false' };
  return { pod: pod.data, container: name === '' ? APP_CONTAINER : name, previous: previous === 'true' };
}
