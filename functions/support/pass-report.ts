import type { HeartbeatReport } from '../../lib/kube/heartbeat.ts';
import type { PassSummary } from '../../lib/reconcile/pass.ts';
import { errorFields } from './logger.ts';

/**
 * Turns a pass summary and a heartbeat report into log fields and metric counts. Only
 * counts, kinds and scopes — pass error messages are the adapters' own and carry no secrets.
 */
export function passLogFields(summary: PassSummary): Record<string, unknown> {
  return {
    pods: summary.pods,
    plans: summary.plans,
    executed: summary.executed,
    skipped: summary.skipped,
    statusWrites: summary.statusWrites,
    events: summary.events,
    providersDown: summary.providersDown,
    errorCount: summary.errors.length,
    ...(summary.forwarders === undefined ? {} : { forwarders: summary.forwarders }),
    durationMs: summary.durationMs,
  };
}

/** Tagged instances the pass found without a live pod (and destroys): the leak alarm's metric. */
export function leakedInstances(summary: PassSummary): number {
  return (summary.plans['gc-instance'] ?? 0) + (summary.plans['destroy-extra'] ?? 0);
}

export function authFailures(
  summary: PassSummary | undefined,
  heartbeat: HeartbeatReport | undefined,
): number {
  const passAuth = summary?.errors.filter((e) => e.kind === 'auth').length ?? 0;
  const beatAuth = heartbeat?.failures.filter((f) => errorFields(f.error).errorKind === 'auth').length ?? 0;
  return passAuth + beatAuth;
}

export function heartbeatLogFields(report: HeartbeatReport): Record<string, unknown> {
  return {
    beats: report.beats,
    renewed: report.renewed,
    failures: report.failures.map((f) => ({ node: f.node, step: f.step, ...errorFields(f.error) })),
  };
}
