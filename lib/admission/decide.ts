import type { V1PodSpec } from '@kubernetes/client-node';
import { z } from 'zod';
import { parseRequirements } from '../annotations/parse.ts';
import { requirementsInputFromPod } from '../annotations/pod-input.ts';
import { unsupportedPodSpec } from '../kube/pod-spec-support.ts';
import type { PodEventMessage } from './pod-event.ts';
import type { AdmissionRequest, AdmissionVerdict } from './review.ts';

/** Annotation prefixes whose values anex validates (DESIGN §3). */
const ANEX_KEY = /^([a-z]+\.)?anex\.sh\//;

export interface AdmissionSettings {
  /** the virtual nodes (bindings to and deletions from these are enqueued) */
  nodeNames: readonly string[];
  /** nodeSelector key and values that make a pod an anex pod */
  nodeSelectorKey: string;
  nodeSelectorValues: readonly string[];
}

export interface AdmissionDecision {
  verdict: AdmissionVerdict;
  /** a per-pod pass to enqueue (never on dry runs) */
  enqueue?: PodEventMessage;
}

const podShape = z.object({
  metadata: z
    .object({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      uid: z.string().optional(),
      annotations: z.record(z.string(), z.unknown()).nullish(),
    })
    .loose()
    .optional(),
  spec: z
    .object({ nodeName: z.string().optional(), nodeSelector: z.record(z.string(), z.string()).nullish() })
    .loose()
    .optional(),
});

const bindingShape = z.object({
  metadata: z.object({ name: z.string().optional(), uid: z.string().optional() }).loose().optional(),
  target: z.object({ kind: z.string().optional(), name: z.string() }).loose(),
});

const ALLOW: AdmissionDecision = { verdict: { allowed: true } };

/**
 * What the admission webhook does with one request. Pure: no clock, no I/O. It denies only
 * anex pods: one whose spec a rented machine cannot honour (on CREATE; lib/kube/pod-spec-support.ts),
 * whose anex annotations are wrong (on UPDATE only when those annotations changed, so a pod
 * created before the webhook existed can still be updated, e.g. by the garbage collector
 * removing a finalizer), or an ephemeral container added to one (`kubectl debug`).
 */
export function decideAdmission(request: AdmissionRequest, settings: AdmissionSettings): AdmissionDecision {
  if (request.resource.group !== '' || request.resource.resource !== 'pods') return ALLOW;
  if (request.subResource === 'binding')
    return request.operation === 'CREATE' ? onBinding(request, settings) : ALLOW;
  if (request.subResource === 'ephemeralcontainers')
    return request.operation === 'UPDATE' ? onEphemeral(request, settings) : ALLOW;
  if (request.subResource !== undefined && request.subResource !== '') return ALLOW;
  if (request.operation === 'DELETE') return onDelete(request, settings);
  if (request.operation === 'CREATE' || request.operation === 'UPDATE') return onWrite(request, settings);
  return ALLOW;
}

function onBinding(request: AdmissionRequest, settings: AdmissionSettings): AdmissionDecision {
  const binding = bindingShape.safeParse(request.object);
  if (!binding.success || !settings.nodeNames.includes(binding.data.target.name)) return ALLOW;
  const name = request.name ?? binding.data.metadata?.name;
  if (name === undefined || request.namespace === undefined) return ALLOW;
  return withEvent(request, {
    podUid: binding.data.metadata?.uid,
    namespace: request.namespace,
    name,
    cause: 'bound',
  });
}

function onDelete(request: AdmissionRequest, settings: AdmissionSettings): AdmissionDecision {
  const pod = podShape.safeParse(request.oldObject);
  const nodeName = pod.success ? pod.data.spec?.nodeName : undefined;
  if (!pod.success || nodeName === undefined || !settings.nodeNames.includes(nodeName)) return ALLOW;
  const name = request.name ?? pod.data.metadata?.name;
  if (name === undefined || request.namespace === undefined) return ALLOW;
  return withEvent(request, {
    podUid: pod.data.metadata?.uid,
    namespace: request.namespace,
    name,
    cause: 'deleted',
  });
}

function withEvent(
  request: AdmissionRequest,
  event: Omit<PodEventMessage, 'podUid'> & { podUid: string | undefined },
): AdmissionDecision {
  if (request.dryRun === true) return ALLOW;
  const { podUid, ...rest } = event;
  return {
    verdict: { allowed: true },
    enqueue: podUid === undefined || podUid === '' ? rest : { ...rest, podUid },
  };
}

function onWrite(request: AdmissionRequest, settings: AdmissionSettings): AdmissionDecision {
  const pod = podShape.safeParse(request.object);
  if (!pod.success) return ALLOW;
  const selector = pod.data.spec?.nodeSelector?.[settings.nodeSelectorKey];
  if (selector === undefined || !settings.nodeSelectorValues.includes(selector)) return ALLOW;
  const ref = `${request.namespace ?? pod.data.metadata?.namespace ?? 'default'}/${podName(request, pod.data)}`;
  // The spec is checked when the pod is made (it is immutable after, but for what no anex
  // field depends on); the annotations when they change.
  if (request.operation === 'CREATE') {
    const unsupported = unsupportedPodSpec((request.object as { spec?: V1PodSpec }).spec);
    if (unsupported.length > 0)
      return refuse(`pod ${ref}: a rented machine cannot honour this pod`, unsupported);
  }
  if (request.operation === 'UPDATE' && sameAnexAnnotations(request.object, request.oldObject)) return ALLOW;
  const input = requirementsInputFromPod(request.object);
  const result = input.ok
    ? parseRequirements(input.input)
    : { ok: false as const, errors: input.errors, warnings: [] };
  if (result.ok) return { verdict: { allowed: true, warnings: result.requirements.warnings } };
  return {
    verdict: {
      allowed: false,
      message: `pod ${ref}: invalid anex annotations (${result.errors.length}):\n${result.errors.map((e) => `- ${e}`).join('\n')}`,
      warnings: result.warnings,
    },
  };
}

function refuse(what: string, issues: readonly string[]): AdmissionDecision {
  return {
    verdict: {
      allowed: false,
      message: `${what} (${issues.length}):\n${issues.map((e) => `- ${e}`).join('\n')}`,
    },
  };
}

/** The start of the refusal of `kubectl debug` on an anex pod (ADR 0023 §6, kube audit K5). */
export const EPHEMERAL_REFUSAL = 'ephemeral containers (kubectl debug) cannot run on anex nodes';

/**
 * `kubectl debug` adds an ephemeral container: an anex pod's machine runs only the pod's own
 * containers, under the agent, with no container runtime to start another in. Refused for a
 * pod on an anex node (spec.nodeName) or for one (the node selector), before the API server
 * stores a container nothing would ever run.
 */
function onEphemeral(request: AdmissionRequest, settings: AdmissionSettings): AdmissionDecision {
  const pod = podShape.safeParse(request.object);
  if (!pod.success) return ALLOW;
  const selector = pod.data.spec?.nodeSelector?.[settings.nodeSelectorKey];
  const nodeName = pod.data.spec?.nodeName;
  const onNode = nodeName !== undefined && settings.nodeNames.includes(nodeName);
  const forNode = selector !== undefined && settings.nodeSelectorValues.includes(selector);
  if (!onNode && !forNode) return ALLOW;
  const ref = `${request.namespace ?? pod.data.metadata?.namespace ?? 'default'}/${podName(request, pod.data)}`;
  const where = onNode ? `is on ${nodeName}` : `is for the anex ${selector} node`;
  return {
    verdict: {
      allowed: false,
      message:
        `${EPHEMERAL_REFUSAL}: pod ${ref} ${where}, a rented machine that runs only the pod's own ` +
        'containers (no container runtime to add one to); use kubectl exec, kubectl logs or kubectl port-forward instead',
    },
  };
}

function podName(request: AdmissionRequest, pod: z.infer<typeof podShape>): string {
  return request.name || pod.metadata?.name || `${pod.metadata?.generateName ?? ''}<generated>`;
}

function anexAnnotations(object: unknown): string {
  const pod = podShape.safeParse(object);
  const annotations = pod.success ? (pod.data.metadata?.annotations ?? {}) : {};
  const ours = Object.entries(annotations).filter(([key]) => ANEX_KEY.test(key));
  return JSON.stringify(ours.sort(([a], [b]) => a.localeCompare(b)));
}

function sameAnexAnnotations(object: unknown, oldObject: unknown): boolean {
  return (
    oldObject !== undefined && oldObject !== null && anexAnnotations(object) === anexAnnotations(oldObject)
  );
}
