import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * Real-shaped Lambda inputs: the context the runtime passes and the events of the triggers
 * the stack wires (EventBridge Scheduler → tick, SQS → pod-events, Function URL → agent),
 * with the fields AWS documents for each.
 */
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

/** A Lambda context whose deadline is `remainingMs` from now (the handlers' deadline middleware reads it). */
export function aLambdaContext(functionName: string, remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '128',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/11/26/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** What EventBridge Scheduler sends a Lambda target (the default input: the schedule's metadata). */
export function aSchedulerEvent(scheduleName = 'anex-tick'): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/${scheduleName}`],
    detail: '{}',
  };
}

/** One SQS record as the event source mapping delivers it. */
export function anSqsRecord(body: string, queueName = 'anex-pod-events'): Record<string, unknown> {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: `AQEB${Buffer.from(randomUUID()).toString('base64')}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'AROAEXAMPLE:anex-admission',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queueName}`,
    awsRegion: REGION,
  };
}

export function anSqsEvent(records: Record<string, unknown>[]): { Records: Record<string, unknown>[] } {
  return { Records: records };
}

/** A Function URL request, payload format 2.0. */
export function aFunctionUrlEvent(request: {
  method: 'GET' | 'POST';
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: unknown;
  base64?: boolean;
}): Record<string, unknown> {
  const text = request.body === undefined ? undefined : JSON.stringify(request.body);
  const body = text !== undefined && request.base64 === true ? Buffer.from(text).toString('base64') : text;
  const domain = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: request.query ?? '',
    headers: {
      host: domain,
      'user-agent': 'anex-agent/1',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '203.0.113.7',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      domainName: domain,
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: {
        method: request.method,
        path: request.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'anex-agent/1',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: request.base64 === true,
  };
}
