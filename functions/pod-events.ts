import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { runPass } from '../lib/reconcile/pass.ts';
import { functionEnv, metrics } from './support/composition-root.ts';
import { type Deadline, type DeadlineContext, deadlineSignal } from './support/deadline.ts';
import { edgeActionFor } from './support/error-policy.ts';
import { errorFields, logger } from './support/logger.ts';
import { authFailures, leakedInstances, passLogFields } from './support/pass-report.ts';
import { batchItemFailures, processPodBatch, type RecordOutcome } from './support/pod-batch.ts';
import { type ReconcilerRoot, reconcilerRoot } from './support/reconciler-root.ts';

const sqsEventSchema = z.object({
  Records: z.array(z.object({ messageId: z.string(), body: z.string() }).loose()),
});

/** SQS → one reconcile pass per pod named in the batch; failed messages come back via batchItemFailures. */
export async function handlePodEvents(
  event: unknown,
  root: Pick<ReconcilerRoot, 'deps'>,
  options: { deadline: Deadline },
): Promise<SQSBatchResponse> {
  const { Records } = sqsEventSchema.parse(event);
  const { deps } = root;
  const { signal, at: deadline } = options.deadline;
  const outcomes = await processPodBatch(Records, {
    cluster: deps.cluster,
    signal,
    pass: (podUid) => runPass(deps, { now: Date.now(), deadline, signal, podUid }),
  });
  outcomes.forEach(report);
  return { batchItemFailures: batchItemFailures(outcomes) };
}

function report(outcome: RecordOutcome): void {
  const ids = { messageId: outcome.messageId, ...('podUid' in outcome ? { podUid: outcome.podUid } : {}) };
  if (outcome.outcome === 'passed') {
    logger.info('pod pass', { ...ids, ...passLogFields(outcome.summary) });
    for (const error of outcome.summary.errors) logger.warn('pass error', { ...ids, ...error });
    const auth = authFailures(outcome.summary, undefined);
    if (auth > 0) metrics.count('AuthFailures', auth, ids);
    const leaked = leakedInstances(outcome.summary);
    if (leaked > 0) metrics.count('LeakedInstances', leaked, ids);
  } else if (outcome.outcome === 'invalid') {
    logger.error('unreadable pod event dropped', { ...ids, error: outcome.error });
  } else if (outcome.outcome === 'failed') {
    if (outcome.action === 'alert') metrics.count('AuthFailures', 1, ids);
    logger.error('pod pass failed', { ...ids, action: outcome.action, ...errorFields(outcome.error) });
  } else {
    logger.info(`pod event ${outcome.outcome}`, ids);
  }
}

export const handler = middy<unknown, SQSBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(deadlineSignal({ marginMs: functionEnv().deadlineMarginMs }))
  .handler(async (event, context) => {
    const root = await reconcilerRoot().catch((error: unknown) => {
      // The whole batch comes back (and is dead-lettered after maxReceiveCount): the tick
      // covers these pods meanwhile.
      logger.error('cannot start (secret, config)', errorFields(error));
      if (edgeActionFor(error) === 'alert') metrics.count('AuthFailures', 1);
      throw error;
    });
    return handlePodEvents(event, root, { deadline: (context as DeadlineContext).deadline });
  });
