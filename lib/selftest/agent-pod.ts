import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { SHARED_PREFIX } from '../annotations/keys.ts';
import { requiredTaints } from '../kube/virtual-node.ts';
import { MANIFEST_DEFAULTS } from '../manifests/common.ts';
import type { ProviderName } from '../offers/offer.ts';
import { MARKER_NONCE_ENV, markerCommand } from '../tunnel/agent/stub.ts';
import { SELFTEST_IMAGE, selftestAnnotations } from './launch.ts';

/**
 * The agent mode's throw-away pod (ADR 0018): the deployed stack's reconciler rents it through
 * the real path (webhook, reconciler, launch stub, Go agent, bootstrap, status reports).
 */

/** The label every selftest pod carries: the next run deletes the pods a killed run left. */
export const SELFTEST_POD_LABEL = 'anex.sh/selftest';
export const SELFTEST_POD_SELECTOR = `${SELFTEST_POD_LABEL}=true`;

/** The pod's price ceiling annotation: the budget over the longest duration. */
export const PRICE_MAX_KEY = `${SHARED_PREFIX}price-max`;

/** `anex-selftest-<8 hex>`: short, unique per run, recognisable in `kubectl get pods`. */
export function newSelftestPodName(random: (bytes: number) => Buffer = randomBytes): string {
  return `anex-selftest-${random(4).toString('hex')}`;
}

export interface SelftestPodInput {
  name: string;
  provider: ProviderName;
  /** printed by the container in the marker line; travels in the env only */
  nonce: string;
  /** USD/h, the `anex.sh/price-max` (four decimals) */
  ceilingPerHour: number;
  /** the stack ends the pod (and destroys its machine) after this, even if the selftest was killed */
  activeDeadlineSeconds: number;
  image?: string;
}

/**
 * The pod, ready for `createNamespacedPod`: the virtual node's selector and tolerations
 * (lib/kube/virtual-node.ts taints), the marker mode's annotations plus the price ceiling, the
 * marker stub as its command — under the agent it prints the marker to the agent's stdout,
 * which the provider's log API serves — restartPolicy Never and activeDeadlineSeconds.
 */
export function selftestPodManifest(input: SelftestPodInput): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: input.name,
      labels: { [SELFTEST_POD_LABEL]: 'true' },
      annotations: {
        ...selftestAnnotations(input.provider),
        [PRICE_MAX_KEY]: input.ceilingPerHour.toFixed(4),
      },
    },
    spec: {
      nodeSelector: { [MANIFEST_DEFAULTS.nodeSelectorKey]: input.provider },
      tolerations: requiredTaints(input.provider).map((taint) => ({
        key: taint.key,
        operator: 'Equal',
        value: taint.value as string,
        effect: taint.effect,
      })),
      restartPolicy: 'Never',
      activeDeadlineSeconds: input.activeDeadlineSeconds,
      // The marker stub leaves at once on SIGTERM; no reason to keep a machine billing longer.
      terminationGracePeriodSeconds: 5,
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'selftest',
          image: input.image ?? SELFTEST_IMAGE,
          command: markerCommand(),
          env: [{ name: MARKER_NONCE_ENV, value: input.nonce }],
        },
      ],
    },
  };
}
