import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { handleAgentRequest } from '../lib/tunnel/endpoint/handler.ts';
import type { AgentEndpointDeps } from '../lib/tunnel/endpoint/types.ts';
import { agentRoot } from './support/agent-root.ts';
import { functionEnv, metrics } from './support/composition-root.ts';
import { deadlineSignal } from './support/deadline.ts';
import {
  bodyText,
  type FunctionUrlResult,
  functionUrlEventSchema,
  jsonResult,
} from './support/function-url.ts';
import { errorFields, logger } from './support/logger.ts';

/**
 * The agent endpoint (Function URL): bootstrap, status reports and pod-alive checks from the
 * agent on a rented machine. Authentication is the per-pod one-time bootstrap token and the
 * status credential, checked by lib/tunnel; this function only translates HTTP shapes.
 */
export async function serveAgent(
  event: unknown,
  deps: AgentEndpointDeps | undefined,
): Promise<FunctionUrlResult> {
  const request = functionUrlEventSchema.parse(event);
  if (deps === undefined) return jsonResult(503, { error: 'temporarily unavailable; retry later' });
  const sourceIp = request.requestContext.http.sourceIp;
  const response = await handleAgentRequest(
    {
      method: request.requestContext.http.method,
      path: request.rawQueryString === '' ? request.rawPath : `${request.rawPath}?${request.rawQueryString}`,
      headers: request.headers,
      body: bodyText(request),
      ...(sourceIp === undefined ? {} : { sourceIp }),
    },
    // Replay or theft of an agent credential: a metric with an alarm (ADR 0021), never the secret.
    {
      ...deps,
      onAuthFailure: ({ reason, route, podUid }) =>
        metrics.count('AgentAuthFailures', 1, { reason, route, podUid }),
    },
  );
  logger.info('agent request', {
    method: request.requestContext.http.method,
    path: request.rawPath,
    status: response.status,
  });
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

export const handler = middy<unknown, FunctionUrlResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(deadlineSignal({ marginMs: functionEnv().deadlineMarginMs }))
  .handler(async (event) => {
    const root = await agentRoot().catch((error: unknown) => {
      logger.error('agent endpoint unavailable', errorFields(error));
      return undefined;
    });
    // Off (tunnel not configured: logged once at start-up) or failing: 503, agents retry.
    return serveAgent(event, root?.on === true ? root.deps : undefined);
  });
