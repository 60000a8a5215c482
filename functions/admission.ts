import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { decideAdmission } from '../lib/admission/decide.ts';
import { decideMutation } from '../lib/admission/mutate.ts';
import { admissionResponse, admissionReviewSchema } from '../lib/admission/review.ts';
import { type AdmissionRoot, admissionRoot } from './support/admission-root.ts';
import { functionEnv, metrics } from './support/composition-root.ts';
import { type Deadline, type DeadlineContext, deadlineSignal } from './support/deadline.ts';
import { edgeActionFor } from './support/error-policy.ts';
import {
  bodyText,
  type FunctionUrlResult,
  functionUrlEventSchema,
  jsonResult,
} from './support/function-url.ts';
import { errorFields, logger } from './support/logger.ts';
import { webhookRoute } from './support/webhook-auth.ts';

/**
 * The admission webhooks (one Function URL, registered by `anex manifests`; the path says
 * which): `/admit/<token>` validates and enqueues — failure-tolerant, the API server ignores us
 * if we fail (failurePolicy Ignore), so an enqueue that fails is logged and the pod is still
 * admitted and the minute tick catches up; `/mutate/<token>` adds the outage tolerations to
 * anex pods (failurePolicy Fail for those pods only: lib/manifests/webhook.ts says why).
 */
export async function admit(
  event: unknown,
  root: AdmissionRoot,
  options: { deadline: Deadline },
): Promise<FunctionUrlResult> {
  const request = functionUrlEventSchema.parse(event);
  const route = webhookRoute(request.rawPath, root.webhookToken.reveal());
  if (route === undefined) {
    logger.warn('admission call with a wrong path token', { pathLength: request.rawPath.length });
    metrics.count('AuthFailures', 1, { source: 'admission' });
    return jsonResult(403, { error: 'forbidden' });
  }
  if (request.requestContext.http.method !== 'POST')
    return jsonResult(405, { error: 'POST an AdmissionReview' });
  const review = admissionReviewSchema.safeParse(parseJson(bodyText(request)));
  if (!review.success) {
    logger.warn('not an AdmissionReview v1', { issues: review.error.issues.map((i) => i.path.join('.')) });
    return jsonResult(400, { error: 'expected an admission.k8s.io/v1 AdmissionReview' });
  }
  const { uid, namespace, name, operation } = review.data.request;
  if (route === 'mutate') {
    const mutation = decideMutation(review.data.request, root.settings);
    logger.info('admission (mutate)', { uid, namespace, name, operation, patched: !!mutation.patch });
    return jsonResult(200, admissionResponse(uid, mutation.verdict, mutation.patch));
  }
  const decision = decideAdmission(review.data.request, root.settings);
  if (decision.enqueue !== undefined) {
    await root.sink.send(decision.enqueue, { signal: options.deadline.signal }).catch((error: unknown) => {
      logger.warn('could not enqueue a pod pass; the tick will catch up', { uid, ...errorFields(error) });
    });
  }
  logger.info('admission', {
    uid,
    namespace,
    name,
    operation,
    allowed: decision.verdict.allowed,
    enqueued: !!decision.enqueue,
  });
  return jsonResult(200, admissionResponse(uid, decision.verdict));
}

function parseJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = middy<unknown, FunctionUrlResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(deadlineSignal({ marginMs: functionEnv().deadlineMarginMs }))
  .handler(async (event, context) => {
    const root = await admissionRoot().catch((error: unknown) => {
      logger.error('cannot start (secret, config)', errorFields(error));
      if (edgeActionFor(error) === 'alert') metrics.count('AuthFailures', 1, { source: 'admission' });
      return undefined;
    });
    // 503: the API server applies the failurePolicy — Ignore (validate): the pod is admitted and
    // the tick catches up; Fail (mutate, anex pods only): the pod's creation is refused, and its
    // controller retries.
    if (root === undefined) return jsonResult(503, { error: 'temporarily unavailable' });
    return admit(event, root, { deadline: (context as DeadlineContext).deadline });
  });
