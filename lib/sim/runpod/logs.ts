import type { SimRequest, SimResponse, SimStream } from '../common/http-server.ts';
import { findSimImage } from '../common/images.ts';
import { type PodRecord, phaseAt, type RunPodTimings } from './pods.ts';
import { problem } from './routes.ts';

/** How often an open stream looks for lines printed since its last look. */
export const LOG_FOLLOW_MS = 100;

/** What a log stream reads while it stays open. */
export interface PodLogSource {
  /** the pod while it lives; undefined once it is gone (deleted, or the simulator reset) */
  pod: () => PodRecord | undefined;
  now: () => number;
  timings: RunPodTimings;
  containerLog?: ((id: string) => string | undefined) | undefined;
  /** the streams now open (RunPodSim.openLogStreams reads it: nothing may outlive its client) */
  open: Set<object>;
}

/**
 * `GET /v2/pods/{id}/logs` (v2 OpenAPI getPodLogs): Server-Sent Events, each `id: <ts>/<seq>`
 * and `data: {"ts","source","line"}` (the spec's example event: `id:
 * 2026-06-01T12:02:03Z/000000000001`, `ts` in whole seconds); `source` = `container` |
 * `system` (omitted: both), `tail` 0…5000 (default 100) lines of backfill. The stream then
 * **stays open** — the 200's `Connection` header is "Always `keep-alive` to hold the SSE stream
 * open" — and carries each line the pod prints later, until the client goes away or the pod is
 * gone. The system source says what the host did with the image — the one place a failed pull
 * shows on RunPod, where the pod itself stays RUNNING with `runtime: null` (runpod audit row
 * 11): docker's words for a repository it may not read, or one that is not there.
 */
export function podLogs(request: SimRequest, from: PodLogSource): SimResponse {
  const pod = from.pod();
  if (pod === undefined) return problem(404, 'pod not found');
  const raw = request.query.get('source');
  if (raw !== null && raw !== 'container' && raw !== 'system')
    return problem(422, 'Request validation failed.', [
      '$.source: value must be one of "container", "system"',
    ]);
  const source = raw ?? undefined;
  const tail = Number(request.query.get('tail') ?? 100);
  if (!Number.isInteger(tail) || tail < 0 || tail > 5000)
    return problem(422, 'Request validation failed.', ['$.tail: must be an integer from 0 to 5000']);
  const lines = linesOf(pod, from, source);
  const first = tail === 0 ? lines.length : Math.max(0, lines.length - tail);
  return {
    status: 200,
    body: lines
      .slice(first)
      .map((l, i) => event(l, first + i))
      .join(''),
    contentType: 'text/event-stream',
    headers: { 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' },
    stream: (out) => follow(out, from, source, lines.length),
  };
}

/**
 * Sends the lines that appear after the backfill, every {@link LOG_FOLLOW_MS}. A pod's lines
 * only grow at the end (system lines before the container starts, its output after), so the
 * count already sent is the cursor; a capture that shrank (a new machine) starts over from its
 * new end rather than repeating lines.
 */
function follow(out: SimStream, from: PodLogSource, source: Line['source'] | undefined, sent: number): void {
  if (out.closed.aborted) return;
  const handle = {};
  from.open.add(handle);
  let cursor = sent;
  const timer = setInterval(() => {
    const pod = from.pod();
    if (pod === undefined) {
      out.end();
      stop();
      return;
    }
    const lines = linesOf(pod, from, source);
    for (let i = Math.min(cursor, lines.length); i < lines.length; i++) out.write(event(lines[i] as Line, i));
    cursor = lines.length;
  }, LOG_FOLLOW_MS);
  const stop = () => {
    clearInterval(timer);
    from.open.delete(handle);
  };
  out.closed.addEventListener('abort', stop, { once: true });
}

/** One event; `seq` (the line's place in the pod's log) keeps ids apart within one second. */
function event(l: Line, seq: number): string {
  const ts = new Date(l.at).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const id = `${ts}/${String(seq + 1).padStart(12, '0')}`;
  return `id: ${id}\ndata: ${JSON.stringify({ ts, source: l.source, line: l.line })}\n\n`;
}

function linesOf(pod: PodRecord, from: PodLogSource, source: Line['source'] | undefined): Line[] {
  const at = { now: from.now(), timings: from.timings, containerLog: from.containerLog };
  return [...systemLines(pod, at), ...containerLines(pod, at)].filter(
    (l) => source === undefined || l.source === source,
  );
}

interface Line {
  at: number;
  source: 'system' | 'container';
  line: string;
}

function systemLines(pod: PodRecord, at: { now: number; timings: RunPodTimings }): Line[] {
  const phase = phaseAt(pod, at.now, at.timings);
  if (phase.status === 'PROVISIONING') return [];
  const pulledAt = pod.createdAt + at.timings.provisionMs;
  const lines: Line[] = [{ at: pulledAt, source: 'system', line: `Pulling image ${pod.image}` }];
  if (pod.plan === 'image-pull-error') {
    const repository = pod.image.replace(/:[^/:]+$/, '');
    const line =
      findSimImage(pod.image) === undefined
        ? `Error response from daemon: manifest for ${pod.image} not found: manifest unknown: manifest unknown`
        : `Error response from daemon: pull access denied for ${repository}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`;
    lines.push({ at: pulledAt, source: 'system', line });
    return lines;
  }
  if (phase.startedAt !== undefined)
    lines.push({ at: phase.startedAt, source: 'system', line: `Started container for pod ${pod.id}` });
  return lines;
}

/**
 * The `container` source: what the pod's process really printed (the machine runner's capture,
 * stdout and stderr as docker logs them), one event per line, stamped with the container's
 * start (the capture keeps no per-line times). Nothing before the container started.
 */
function containerLines(
  pod: PodRecord,
  at: {
    now: number;
    timings: RunPodTimings;
    containerLog?: ((id: string) => string | undefined) | undefined;
  },
): Line[] {
  const phase = phaseAt(pod, at.now, at.timings);
  if (phase.startedAt === undefined || at.containerLog === undefined) return [];
  const text = at.containerLog(pod.id) ?? '';
  const startedAt = phase.startedAt;
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => ({ at: startedAt, source: 'container' as const, line }));
}
