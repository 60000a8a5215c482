import { z } from 'zod';

/**
 * AdmissionReview v1 (admission.k8s.io/v1), the parts anex reads. Objects stay `unknown`
 * here: the decision code parses the ones it needs, and ignores the rest.
 */
const groupVersionResource = z.object({ group: z.string(), version: z.string(), resource: z.string() });

export const admissionRequestSchema = z.object({
  uid: z.string().min(1),
  resource: groupVersionResource,
  subResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  object: z.unknown().optional(),
  oldObject: z.unknown().optional(),
  dryRun: z.boolean().optional(),
});

export const admissionReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: admissionRequestSchema,
});

export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;

export interface AdmissionVerdict {
  allowed: boolean;
  /** shown to the user by kubectl when the request is refused */
  message?: string;
  /** shown by kubectl as "Warning: ..." even when allowed */
  warnings?: readonly string[];
}

/** One RFC 6902 operation of a mutating webhook's answer. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

/**
 * The AdmissionReview v1 response for `uid`; with `patch` (a mutating webhook's answer), the
 * JSONPatch the API server applies to the object, base64-encoded as the API requires.
 */
export function admissionResponse(
  uid: string,
  verdict: AdmissionVerdict,
  patch?: readonly JsonPatchOperation[],
): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: verdict.allowed,
      ...(verdict.allowed || verdict.message === undefined
        ? {}
        : { status: { code: 422, reason: 'Invalid', message: verdict.message } }),
      ...(verdict.warnings === undefined || verdict.warnings.length === 0
        ? {}
        : { warnings: verdict.warnings.map(oneLine) }),
      ...(patch === undefined || patch.length === 0
        ? {}
        : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }),
    },
  };
}

/** Kubernetes wants warnings as single lines of printable text. */
function oneLine(text: string): string {
  return text.replaceAll(/\s+/g, ' ').trim();
}
