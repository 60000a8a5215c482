import type { ExplainReport } from './explain-report.ts';
import { formatPrice, renderJson, renderTable } from './offers-output.ts';

/** `anex explain` as text: pod, annotations, state, bans, funnel + near miss, events. */
export function renderExplainText(report: ExplainReport, now: number): string {
  const { pod } = report;
  const lines = [
    `Pod ${pod.namespace}/${pod.name} (uid ${pod.uid})`,
    `  phase: ${pod.phase ?? 'Pending'}${pod.node ? ` on ${pod.node}` : ' (not bound to a node yet)'}` +
      `${pod.reason ? ` · ${pod.reason}` : ''}${pod.message ? `: ${pod.message}` : ''}`,
    `  provider: ${report.provider ?? '(none)'}`,
    '',
    'Annotations:',
  ];
  if (report.requirements.ok) {
    lines.push('  valid');
    for (const w of report.requirements.value.warnings) lines.push(`  warning: ${w}`);
  } else {
    for (const e of report.requirements.errors) lines.push(`  error: ${e}`);
  }
  lines.push('', 'State:', `  ${recordLine(report, now)}`, '', 'Bans in force:');
  if (report.bans.length === 0) lines.push('  none');
  for (const ban of report.bans) {
    lines.push(`  machine ${ban.machineId} until ${new Date(ban.expiresAt).toISOString()}: ${ban.reason}`);
  }
  lines.push('', 'Live offers:', ...offerLines(report));
  lines.push('', 'Recent events:');
  if (report.events.length === 0) lines.push('  none');
  for (const e of report.events) {
    lines.push(`  ${e.last} ${e.type} ${e.reason}${e.count > 1 ? ` (x${e.count})` : ''}: ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function offerLines(report: ExplainReport): string[] {
  if (report.offers === undefined || !report.requirements.ok) {
    return [`  ${report.offersError ?? 'not searched (the annotations are invalid)'}`];
  }
  const table = renderTable({
    requirements: report.requirements.value,
    candidates: report.offers.candidates,
    explanation: report.offers.explanation,
    limit: 5,
  });
  return table
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}

function recordLine(report: ExplainReport, now: number): string {
  const r = report.record;
  if (r === undefined) return 'no record (the reconciler has not acted on this pod)';
  const parts = [`stage ${r.stage}`, `attempts ${r.attempts}`];
  if (r.instance !== undefined) {
    const minutes = ((now - r.instance.createdAt) / 60_000).toFixed(1);
    const gpu = r.instance.gpuName === undefined ? '' : ` ${r.instance.gpuCount ?? 1}x ${r.instance.gpuName}`;
    const price = r.instance.pricePerHour === undefined ? '' : ` at ${formatPrice(r.instance.pricePerHour)}`;
    parts.push(`instance ${r.instance.id}${gpu}${price}, rented ${minutes} min ago`);
  }
  if (r.lastError !== undefined) parts.push(`last error: ${r.lastError}`);
  return parts.join(' · ');
}

/** `--output json`: the report, with offers in `anex offers --output json` form. */
export function renderExplainJson(report: ExplainReport): string {
  const offers =
    report.offers !== undefined && report.requirements.ok
      ? JSON.parse(
          renderJson({
            requirements: report.requirements.value,
            candidates: report.offers.candidates,
            explanation: report.offers.explanation,
            limit: 5,
          }),
        )
      : undefined;
  const body = {
    pod: report.pod,
    provider: report.provider,
    annotations: report.requirements.ok
      ? { valid: true, warnings: report.requirements.value.warnings }
      : { valid: false, errors: report.requirements.errors },
    record: report.record,
    bans: report.bans,
    offers,
    offersError: report.offersError,
    events: report.events,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
