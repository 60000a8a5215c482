import { z } from 'zod';

/**
 * Lambda Function URL requests (payload format 2.0), the fields anex reads. Headers arrive
 * lower-cased; a binary body arrives base64-encoded.
 */
export const functionUrlEventSchema = z.object({
  rawPath: z.string(),
  rawQueryString: z.string().optional().default(''),
  headers: z.record(z.string(), z.string()).optional().default({}),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional().default(false),
  requestContext: z.object({
    http: z.object({ method: z.string(), sourceIp: z.string().optional() }),
    requestId: z.string().optional(),
  }),
});

export type FunctionUrlEvent = z.infer<typeof functionUrlEventSchema>;

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function bodyText(event: FunctionUrlEvent): string | undefined {
  if (event.body === undefined) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function jsonResult(statusCode: number, body: unknown): FunctionUrlResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
