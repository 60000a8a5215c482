import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { runHeartbeat } from '../lib/kube/heartbeat.ts';
import { type PassSummary, runPass } from '../lib/reconcile/pass.ts';
import { highestUse, NEAR_LIMIT } from '../lib/reconcile/spend-limits.ts';
import { functionEnv, metrics } from './support/composition-root.ts';
import { type Deadline, type DeadlineContext, deadlineSignal } from './support/deadline.ts';
import { edgeActionFor } from './support/error-policy.ts';
import { errorFields, logger } from './support/logger.ts';
import { authFailures, heartbeatLogFields, leakedInstances, passLogFields } from './support/pass-report.ts';
import { type ReconcilerRoot, reconcilerRoot } from './support/reconciler-root.ts';

/**
 * Every minute (EventBridge Scheduler): keep the virtual nodes' leases fresh for the tick
 * window while one full reconcile pass runs alongside. The event carries nothing we read.
 */
export async function runTick(
  root: ReconcilerRoot,
  options: { deadline: Deadline; windowSeconds: number },
): Promise<void> {
  const { deps, nodes } = root;
  const { signal, at: deadline } = options.deadline;
  const started = Date.now();
  // No node to keep alive (no provider has an API key): no reason to wait out the window.
  const until = nodes.length === 0 ? started : Math.min(started + options.windowSeconds * 1000, deadline);
  const heartbeat = runHeartbeat({
    cluster: deps.cluster,
    nodes,
    until,
    signal,
    now: Date.now,
    intervalMs: root.config.heartbeatIntervalMs,
    // The gateway's kubelet API (ADR 0023): the nodes advertise it while it reports in.
    kubeletAddress: () => deps.store.getKubeletAddress(),
    leaseDurationSeconds: root.config.leaseDurationSeconds,
  });
  const pass = runPass(deps, { now: started, deadline, signal }).then(
    (summary) => ({ summary }),
    (error: unknown) => ({ error }),
  );
  const [beat, outcome] = await Promise.all([heartbeat, pass]);
  logger.info('heartbeat', heartbeatLogFields(beat));
  const summary = 'summary' in outcome ? outcome.summary : undefined;
  if (summary !== undefined) {
    logger.info('pass', passLogFields(summary));
    for (const error of summary.errors) logger.warn('pass error', { ...error });
    // Only non-zero counts: a custom metric costs $0.30 for each month it has data, and the
    // alarm treats missing data as healthy.
    const leaked = leakedInstances(summary);
    if (leaked > 0) metrics.count('LeakedInstances', leaked);
    spendNearLimit(summary);
  }
  const auth = authFailures(summary, beat);
  if (auth > 0) metrics.count('AuthFailures', auth);
  if ('error' in outcome) failed(outcome.error);
}

/**
 * A spend limit at 80% or more: the SpendLimitUse metric (its alarm: SpendLimitUse in infra/constructs/anex-alarms.ts)
 * and a warning naming the limits. Below that nothing is written (no data = healthy, and no
 * metric cost). Full passes only see every pod; the tick's pass is one.
 */
function spendNearLimit(summary: PassSummary): void {
  const uses = summary.spendLimits ?? [];
  const share = highestUse(uses);
  if (share < NEAR_LIMIT) return;
  const near = uses.filter((u) => (u.cap === 0 ? 1 : u.used / u.cap) >= NEAR_LIMIT);
  metrics.count('SpendLimitUse', Math.round(share * 100));
  logger.warn('spend near a limit', {
    limits: near.map((u) => `${u.limit} ${u.used.toFixed(2)} of ${u.cap} (${u.setting})`),
  });
}

function failed(error: unknown, what = 'pass failed'): never {
  const action = edgeActionFor(error);
  logger.error(what, { action, ...errorFields(error) });
  if (action === 'alert') metrics.count('AuthFailures', 1);
  // Rethrown so the function's Errors alarm sees it; the schedule does not replay a tick.
  throw error;
}

export const handler = middy<unknown, void, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(deadlineSignal({ marginMs: functionEnv().deadlineMarginMs }))
  .handler(async (_event, context) =>
    runTick(
      await reconcilerRoot().catch((error: unknown) => failed(error, 'cannot start (secret, config)')),
      {
        deadline: (context as DeadlineContext).deadline,
        windowSeconds: functionEnv().tickWindowSeconds,
      },
    ),
  );
