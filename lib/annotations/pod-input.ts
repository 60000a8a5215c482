import { z } from 'zod';
import type { RequirementsInput } from './parse.ts';
import { requestsOf } from './requests.ts';

/**
 * The part of a Pod manifest the annotation parser needs, checked with zod. Tolerant of
 * every other field; a value Kubernetes itself would refuse (a non-string annotation) is
 * reported, not coerced, since the user's YAML probably lacks quotes.
 */
const quantity = z.union([z.string(), z.number()]);
const podSchema = z.object({
  metadata: z
    .object({ annotations: z.record(z.string(), z.unknown()).nullish() })
    .loose()
    .nullish(),
  spec: z
    .object({
      nodeSelector: z.record(z.string(), z.string()).nullish(),
      containers: z
        .array(
          z
            .object({
              resources: z
                .object({
                  limits: z.record(z.string(), quantity).nullish(),
                  requests: z.record(z.string(), quantity).nullish(),
                })
                .loose()
                .nullish(),
            })
            .loose(),
        )
        .nullish(),
    })
    .loose()
    .nullish(),
});

const GPU_RESOURCE = 'nvidia.com/gpu';

export type PodInputResult =
  | { ok: true; input: RequirementsInput }
  | { ok: false; errors: readonly string[] };

function annotationsOf(raw: Record<string, unknown>, errors: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string') out[key] = value;
    else {
      errors.push(
        `${key}: annotation values must be strings; quote it (${JSON.stringify(JSON.stringify(value ?? null))})`,
      );
    }
  }
  return out;
}

function gpuLimitsOf(
  containers: readonly {
    resources?: { limits?: Record<string, unknown> | null | undefined } | null | undefined;
  }[],
) {
  const errors: string[] = [];
  const limits: number[] = [];
  containers.forEach((container, index) => {
    const raw = container.resources?.limits?.[GPU_RESOURCE];
    if (raw === undefined) return;
    const text = String(raw).trim();
    if (!/^\d+$/.test(text)) {
      errors.push(
        `spec.containers[${index}].resources.limits["${GPU_RESOURCE}"]: ${JSON.stringify(raw)} is not a whole number of GPUs (e.g. "1")`,
      );
      return;
    }
    limits.push(Number(text));
  });
  return { limits, errors };
}

/** A Pod object (parsed YAML/JSON, or from the API) → the parser's input. */
export function requirementsInputFromPod(pod: unknown): PodInputResult {
  const parsed = podSchema.safeParse(pod);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((i) => `${i.path.join('.') || 'pod'}: ${i.message}`),
    };
  }
  const errors: string[] = [];
  const annotations = annotationsOf(parsed.data.metadata?.annotations ?? {}, errors);
  const gpu = gpuLimitsOf(parsed.data.spec?.containers ?? []);
  errors.push(...gpu.errors);
  if (errors.length > 0) return { ok: false, errors };
  const input: RequirementsInput = { annotations };
  const nodeSelector = parsed.data.spec?.nodeSelector;
  if (nodeSelector) input.nodeSelector = nodeSelector;
  if (gpu.limits.length > 0) input.gpuLimits = gpu.limits;
  const requests = requestsOf((parsed.data.spec?.containers ?? []).map((c) => c.resources?.requests ?? {}));
  if (requests !== undefined) input.resourceRequests = requests;
  return { ok: true, input };
}
