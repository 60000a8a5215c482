import { z } from 'zod';
import { type Toleration, withOutageTolerations } from '../kube/outage-tolerations.ts';
import type { AdmissionSettings } from './decide.ts';
import type { AdmissionRequest, AdmissionVerdict, JsonPatchOperation } from './review.ts';

/** What the mutating webhook answers: always allowed; a JSONPatch when the pod needs one. */
export interface MutationDecision {
  verdict: AdmissionVerdict;
  patch?: JsonPatchOperation[];
}

const podShape = z.object({
  spec: z
    .object({
      nodeSelector: z.record(z.string(), z.string()).nullish(),
      tolerations: z.array(z.object({}).loose()).nullish(),
    })
    .loose()
    .optional(),
});

const UNCHANGED: MutationDecision = { verdict: { allowed: true } };

/**
 * The mutating admission webhook's decision for one request. Pure: no clock, no I/O.
 *
 * A pod CREATE selecting an anex node (the same nodeSelector the validating webhook checks)
 * gets the outage tolerations of lib/kube/outage-tolerations.ts — the whole `/spec/tolerations`
 * list replaced, because DefaultTolerationSeconds already added the two with 300 s and the taint
 * manager honours the smallest. Anything else passes unchanged: UPDATE is not mutated (an
 * existing pod's update must never depend on anex; the reconciler reports such pods instead).
 * Never refuses: a pod's tolerations are the user's business beyond these two keys.
 */
export function decideMutation(request: AdmissionRequest, settings: AdmissionSettings): MutationDecision {
  if (request.resource.group !== '' || request.resource.resource !== 'pods') return UNCHANGED;
  if (request.operation !== 'CREATE') return UNCHANGED;
  if (request.subResource !== undefined && request.subResource !== '') return UNCHANGED;
  const pod = podShape.safeParse(request.object);
  if (!pod.success) return UNCHANGED;
  const selector = pod.data.spec?.nodeSelector?.[settings.nodeSelectorKey];
  if (selector === undefined || !settings.nodeSelectorValues.includes(selector)) return UNCHANGED;
  const current = pod.data.spec?.tolerations as Toleration[] | null | undefined;
  const result = withOutageTolerations(current);
  const warnings = [
    ...result.dropped.map(
      (t) =>
        `anex made the toleration ${t} permanent: on an anex node, an outage of anex must never evict a pod whose machine still runs`,
    ),
    ...result.risks,
  ];
  const verdict: AdmissionVerdict = warnings.length > 0 ? { allowed: true, warnings } : { allowed: true };
  if (!result.changed) return { verdict };
  const op = current === undefined || current === null ? 'add' : 'replace';
  return { verdict, patch: [{ op, path: '/spec/tolerations', value: result.tolerations }] };
}
