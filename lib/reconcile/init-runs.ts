import type { InitRun, PodWrite, TerminatedRun } from '../state/store.ts';
import type { StatusReport } from '../tunnel/endpoint/types.ts';
import { change } from './plan-env.ts';

/**
 * Init containers and sidecars as the agent reports them (agent protocol 4, `container` set):
 * the record keeps one {@link InitRun} per container, from which the pod's
 * initContainerStatuses are built (lib/reconcile/status.ts). kubelet's rules
 * (pkg/kubelet/kuberuntime computeInitContainerActions, KEP-753): init containers run in order
 * to completion, restarted in place on failure unless the pod's restartPolicy is Never — then a
 * failed init container fails the pod; sidecars run alongside the app container.
 */

/** failureReason of a pod whose init container failed under restartPolicy Never. */
export const INIT_FAILED = 'InitContainerFailed';

/**
 * The record after a report about init container or sidecar `report.container`; undefined: no
 * change. `sidecars`: the pod's init containers with restartPolicy Always — their final exit is
 * their stop (after a failed init container, or a deletion), never the pod's failure.
 */
export function applyInitReport(
  record: PodWrite,
  report: StatusReport,
  now: number,
  sidecars: ReadonlySet<string> = new Set(),
): PodWrite | undefined {
  const name = report.container;
  if (name === undefined) return undefined;
  const runs = record.initRuns ?? [];
  const current = runs.find((r) => r.name === name);
  const run = report.restartCount ?? 0;
  // Reports are retried and may arrive late: one about an older run changes nothing.
  if (current !== undefined && run < current.restartCount) return undefined;
  const next = nextRun(current, { ...report, container: name }, run, now);
  if (next === undefined) return undefined;
  const initRuns = current === undefined ? [...runs, next] : runs.map((r) => (r.name === name ? next : r));
  const failed =
    report.state === 'exited' &&
    report.restartInSeconds === undefined &&
    (report.exitCode ?? 1) !== 0 &&
    record.startedAt === undefined &&
    !sidecars.has(name) &&
    record.failureReason !== INIT_FAILED;
  if (!failed) return change(record, { initRuns });
  // The app container never started and will not: the pod fails (restartPolicy Never).
  return change(record, {
    initRuns,
    failureReason: INIT_FAILED,
    lastError: `Init container ${name} exited with code ${report.exitCode ?? 1}`,
  });
}

function nextRun(
  current: InitRun | undefined,
  report: StatusReport & { container: string },
  run: number,
  now: number,
): InitRun | undefined {
  const base: InitRun = current ?? { name: report.container, restartCount: run, state: 'running' };
  switch (report.state) {
    case 'started': {
      if (current?.state === 'running' && current.restartCount === run) return undefined;
      const { backoffSeconds: _b, ready: _r, ...rest } = base;
      return { ...rest, restartCount: run, state: 'running', startedAt: now };
    }
    case 'exited': {
      const terminated: TerminatedRun = {
        exitCode: report.exitCode ?? 1,
        reason:
          (report.exitCode ?? 1) === 0 ? 'Completed' : report.reason === 'OOMKilled' ? 'OOMKilled' : 'Error',
        finishedAt: now,
        ...(base.startedAt === undefined ? {} : { startedAt: base.startedAt }),
      };
      const { ready: _r, backoffSeconds: _b, ...rest } = base;
      if (report.restartInSeconds === undefined)
        return { ...rest, restartCount: run, state: 'terminated', terminated };
      return {
        ...rest,
        restartCount: run,
        state: 'waiting',
        terminated,
        backoffSeconds: report.restartInSeconds,
      };
    }
    case 'ready':
      if (report.ready === undefined || base.ready === report.ready || run !== base.restartCount)
        return undefined;
      return { ...base, ready: report.ready };
    default:
      return undefined;
  }
}
