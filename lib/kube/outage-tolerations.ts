/**
 * The tolerations that keep an anex pod bound through an anex outage (kube audit O1; ADR 0012).
 *
 * When anex stops renewing a virtual node's Lease, the node lifecycle controller marks the node
 * Unknown and taints it `node.kubernetes.io/unreachable:NoExecute` (or `not-ready:NoExecute`);
 * the taint manager then evicts every pod after the SMALLEST `tolerationSeconds` among its
 * tolerations matching that taint. The DefaultTolerationSeconds admission plugin gives every pod
 * both with `tolerationSeconds: 300` before any webhook runs, so adding a toleration without
 * seconds is not enough: the ones with seconds must lose them. Then the taint manager cancels the
 * eviction ("tolerate forever"), and the machine — which never noticed the outage — keeps the pod.
 *
 * Pure: used by the mutating webhook (lib/admission/mutate.ts), the local mode's repair
 * (lib/local/outage-repair.ts) and the reconciler's report (outageEvictionRisk below).
 */
export const OUTAGE_TAINT_KEYS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'] as const;

/** core/v1 Toleration, as JSON (what an AdmissionReview and a pod read carry). */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface OutageTolerationResult {
  /** the pod's tolerations with the outage ones made permanent (order kept; missing ones appended) */
  tolerations: Toleration[];
  /** whether `tolerations` differs from the input */
  changed: boolean;
  /**
   * What still lets an outage evict the pod after the change, worded for the user: a toleration
   * of EVERY NoExecute taint with tolerationSeconds (left alone: it covers the user's own taints
   * too), which the taint manager's minimum would still apply.
   */
  risks: string[];
  /** the user's own outage tolerations whose seconds were dropped, worded for the user */
  dropped: string[];
}

/** The default DefaultTolerationSeconds adds (kube-apiserver --default-*-toleration-seconds). */
const DEFAULT_SECONDS = 300;

function hasSeconds(t: Toleration): t is Toleration & { tolerationSeconds: number } {
  return t.tolerationSeconds !== undefined && t.tolerationSeconds !== null;
}

/** Toleration.ToleratesTaint for a taint `key` with no value and effect NoExecute. */
function tolerates(t: Toleration, key: string): boolean {
  if (t.effect !== undefined && t.effect !== '' && t.effect !== 'NoExecute') return false;
  if (t.key !== undefined && t.key !== '' && t.key !== key) return false;
  if (t.operator === 'Exists') return true;
  // Equal (or unset): an empty key only goes with Exists; the lifecycle taints carry no value.
  return t.key === key && (t.value === undefined || t.value === '');
}

function isWildcard(t: Toleration): boolean {
  return t.key === undefined || t.key === '';
}

function describe(t: Toleration): string {
  const key = isWildcard(t) ? '<every key>' : t.key;
  return `${key} ${t.operator ?? 'Equal'} ${t.effect || '<every effect>'} tolerationSeconds ${t.tolerationSeconds}`;
}

/**
 * The pod's tolerations with both outage taints tolerated forever. A toleration naming an outage
 * key keeps its shape and loses only `tolerationSeconds` — the one change the API server allows
 * on an existing pod (validateOnlyAddedTolerations), so the same result serves admission and a
 * later repair; a key not yet tolerated gets `{key, operator: Exists, effect: NoExecute}`.
 * Idempotent: applied to its own output it changes nothing.
 */
export function withOutageTolerations(
  input: readonly Toleration[] | null | undefined,
): OutageTolerationResult {
  const dropped: string[] = [];
  const risks: string[] = [];
  const outageKey = (t: Toleration) => OUTAGE_TAINT_KEYS.find((key) => !isWildcard(t) && tolerates(t, key));
  const mapped = (input ?? []).map((t) => {
    if (!hasSeconds(t) || outageKey(t) === undefined) return t;
    // DefaultTolerationSeconds' own (or indistinguishable from it) is not the user's choice.
    if (t.tolerationSeconds !== DEFAULT_SECONDS || t.operator !== 'Exists') dropped.push(describe(t));
    const { tolerationSeconds: _, ...forever } = t;
    return forever;
  });
  const tolerations = mapped.filter(
    (t, i) => mapped.findIndex((o) => JSON.stringify(o) === JSON.stringify(t)) === i,
  );
  for (const key of OUTAGE_TAINT_KEYS) {
    const forever = tolerations.some((t) => !hasSeconds(t) && tolerates(t, key));
    if (!forever) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute' });
  }
  for (const t of tolerations) {
    if (isWildcard(t) && hasSeconds(t) && OUTAGE_TAINT_KEYS.some((key) => tolerates(t, key))) {
      risks.push(
        `the toleration ${describe(t)} also matches the outage taints, so an anex outage longer than ${t.tolerationSeconds} s evicts the pod; name the keys it is meant for instead`,
      );
    }
  }
  const changed = JSON.stringify(tolerations) !== JSON.stringify(input ?? []);
  return { tolerations, changed, risks: [...new Set(risks)], dropped };
}

/**
 * Why an outage would evict a pod with these tolerations, or an empty list if it would not:
 * an outage taint without a permanent toleration, or one the taint manager's minimum cuts short.
 */
export function outageEvictionRisks(tolerations: readonly Toleration[] | null | undefined): string[] {
  const list = tolerations ?? [];
  const problems: string[] = [];
  for (const key of OUTAGE_TAINT_KEYS) {
    const matching = list.filter((t) => tolerates(t, key));
    const seconds = matching.filter(hasSeconds).map((t) => t.tolerationSeconds);
    if (matching.length === 0) problems.push(`no toleration of ${key}:NoExecute`);
    else if (seconds.length > 0)
      problems.push(`${key}:NoExecute is tolerated for ${Math.min(...seconds)} s only`);
  }
  return problems;
}
