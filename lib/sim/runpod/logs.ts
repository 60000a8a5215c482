import type { SimRequest, SimResponse } from '../common/http-server.ts';
import { findSimImage } from '../common/images.ts';
import { type PodRecord, phaseAt, type RunPodTimings } from './pods.ts';
import { problem } from './routes.ts';

/**
 * `GET /v2/pods/{id}/logs` (v2 OpenAPI getPodLogs): Server-Sent Events, each `id: <ts>` and
 * `data: {"ts","source","line"}`; `source` = `container` | `system` (omitted: both), `tail`
 * 0…5000 (default 100). The simulator answers the backfill and ends the stream (the real one
 * stays open). The system source says what the host did with the image — the one place a
 * failed pull shows on RunPod, where the pod itself stays RUNNING with `runtime: null`
 * (runpod audit row 11): docker's words for a repository it may not read, or one that is not
 * there.
 */
export function podLogs(
  pod: PodRecord | undefined,
  request: SimRequest,
  at: { now: number; timings: RunPodTimings; containerLog?: (id: string) => string | undefined },
): SimResponse {
  if (pod === undefined) return problem(404, 'pod not found');
  const source = request.query.get('source');
  if (source !== null && source !== 'container' && source !== 'system')
    return problem(422, 'Request validation failed.', [
      '$.source: value must be one of "container", "system"',
    ]);
  const tail = Number(request.query.get('tail') ?? 100);
  if (!Number.isInteger(tail) || tail < 0 || tail > 5000)
    return problem(422, 'Request validation failed.', ['$.tail: must be an integer from 0 to 5000']);
  const lines = [...systemLines(pod, at), ...containerLines(pod, at)]
    .filter((l) => source === null || l.source === source)
    .slice(tail === 0 ? Number.POSITIVE_INFINITY : -tail);
  const body = lines
    .map((l, i) => {
      const ts = new Date(l.at).toISOString();
      const id = `${ts}/${String(i + 1).padStart(12, '0')}`;
      return `id: ${id}\ndata: ${JSON.stringify({ ts, source: l.source, line: l.line })}\n\n`;
    })
    .join('');
  return {
    status: 200,
    body,
    contentType: 'text/event-stream',
    headers: { 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
  };
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
  at: { now: number; timings: RunPodTimings; containerLog?: (id: string) => string | undefined },
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
