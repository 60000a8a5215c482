import type { Cluster, LabelledPod, PodManifest, PodRef, PodView } from '../kube/cluster.ts';
import { type PassError, passError } from './pass-errors.ts';

/**
 * Forwarder pods (ADR 0024): an anex pod that declares TCP ports gets `anex-fwd-<uid>` on an
 * ordinary node of the cluster, listening on the same ports and sending every connection to
 * anex-kubelet (then the agent, over the tunnel); its IP becomes the anex pod's podIP, so
 * Services, EndpointSlices, headless DNS and NetworkPolicy engines work unchanged.
 *
 * The decisions are pure ({@link planForwarders}, {@link forwarderManifest}); {@link syncForwarders}
 * does the few calls they ask for: one list, then creates, deletes and address writes.
 */

/** On each forwarder: the anex pod's uid (garbage collection finds orphans by it). */
export const FORWARDER_POD_UID_LABEL = 'anex.sh/forwarder-for';
/** On each forwarder: `<namespace>/<name>` of the anex pod, for people and NetworkPolicies to read. */
export const FORWARDS_FOR_ANNOTATION = 'anex.sh/forwards-for';
/** The app label every forwarder carries (the gateway's NetworkPolicy admits these to :10250). */
export const FORWARDER_APP = 'anex-forwarder';
/** Where the projected token is mounted; `anex-kubelet forward --token-file` reads `<dir>/token`. */
export const FORWARDER_TOKEN_DIR = '/var/run/secrets/anex-forwarder';
export const DEFAULT_FORWARDER_SERVICE_ACCOUNT = 'anex-forwarder';
export const DEFAULT_FORWARDER_AUDIENCE = 'anex-kubelet';
/**
 * A forwarder whose pod this full pass did not see is deleted only once this old: its pod may
 * have been bound (and its forwarder made by a per-pod pass) after this pass listed the pods.
 */
export const FORWARDER_GC_GRACE_MS = 2 * 60_000;

export function forwarderName(podUid: string): string {
  return `anex-fwd-${podUid}`;
}

export interface ForwardingConfig {
  /** the anex namespace (where the gateway runs) */
  namespace: string;
  /** the gateway image (has /usr/local/bin/anex-kubelet) */
  image: string;
  /** e.g. https://anex-kubelet.anex.svc:10250 */
  kubeletUrl: string;
  /** @default 'anex-forwarder' */
  serviceAccount: string;
  /** the projected token's audience @default 'anex-kubelet' */
  audience: string;
}

/** An anex pod; `launched`: its machine was created (a record with a live attempt). */
export interface ForwardCandidate {
  view: PodView;
  launched: boolean;
}

/** What one sync did: forwarder names created and deleted, anex pods (`<ns>/<name>`) addressed. */
export interface ForwarderSync {
  created: string[];
  deleted: string[];
  addressed: string[];
  errors: PassError[];
}

/** A declared TCP port the forwarder listens on. */
export interface ForwardPort {
  port: number;
  name?: string;
}

/** The calls one sync makes, decided from the candidates and the listed forwarders. */
export interface ForwarderPlan {
  create: PodManifest[];
  delete: LabelledPod[];
  address: { pod: PodRef; ip: string }[];
}

/**
 * The ports a forwarder listens on: the app containers' and the sidecars' declared TCP
 * ports, each once, in the pod's order — exactly what the agent lets port-forward reach
 * (it adds its init containers' ports; an init container that is not a sidecar has ended
 * before the app serves). A name is kept once (names are unique in a pod).
 */
export function forwardPorts(view: PodView): ForwardPort[] {
  const sidecars = (view.initContainers ?? []).filter((c) => c.sidecar === true);
  const ports: ForwardPort[] = [];
  const names = new Set<string>();
  for (const container of [...view.containers, ...sidecars]) {
    for (const port of container.ports ?? []) {
      if (ports.some((p) => p.port === port)) continue;
      const name = container.portNames?.[port];
      if (name !== undefined && !names.has(name)) {
        names.add(name);
        ports.push({ port, name });
      } else {
        ports.push({ port });
      }
    }
  }
  return ports;
}

/** The pod gets a forwarder: launched, not being deleted, not ended, with declared TCP ports. */
export function wantsForwarder(candidate: ForwardCandidate): boolean {
  const { view } = candidate;
  const phase = view.phase ?? view.status?.phase;
  return (
    candidate.launched &&
    view.deletionTimestamp === undefined &&
    phase !== 'Succeeded' &&
    phase !== 'Failed' &&
    forwardPorts(view).length > 0
  );
}

/**
 * Which forwarders to create and delete and which anex pods to give an address.
 * - create: a wanted pod without a forwarder;
 * - delete: a forwarder that Failed or Succeeded (the next pass makes a new one); one whose pod
 *   is not wanted; in a full pass also one whose pod is not among the candidates, once older
 *   than {@link FORWARDER_GC_GRACE_MS}. A per-pod pass (`full: false`) touches its pods' only;
 * - address: a wanted pod whose forwarder is Running with an IP the pod does not show yet (a
 *   recreated forwarder's new IP is written again).
 */
export function planForwarders(input: {
  config: ForwardingConfig;
  pods: readonly ForwardCandidate[];
  existing: readonly LabelledPod[];
  full: boolean;
  now: number;
}): ForwarderPlan {
  const { remove, live } = sortExisting(input);
  const plan: ForwarderPlan = { create: [], delete: remove, address: [] };
  for (const candidate of input.pods) {
    if (!wantsForwarder(candidate)) continue;
    const { view } = candidate;
    const fwd = live.get(view.uid);
    if (fwd === undefined) {
      const deleting = remove.some((d) => d.labels[FORWARDER_POD_UID_LABEL] === view.uid);
      if (!deleting) plan.create.push(forwarderManifest(input.config, view));
    } else if (fwd.deletionTimestamp === undefined && fwd.phase === 'Running' && fwd.podIP !== undefined) {
      if (view.status?.podIP !== fwd.podIP) plan.address.push({ pod: podRef(view), ip: fwd.podIP });
    }
  }
  return plan;
}

/** The listed forwarders this sync may touch: those to delete, and the rest by pod uid. */
function sortExisting(input: {
  pods: readonly ForwardCandidate[];
  existing: readonly LabelledPod[];
  full: boolean;
  now: number;
}): { remove: LabelledPod[]; live: Map<string, LabelledPod> } {
  const byUid = new Map(input.pods.map((c) => [c.view.uid, c]));
  const remove: LabelledPod[] = [];
  const live = new Map<string, LabelledPod>();
  for (const fwd of input.existing) {
    const uid = fwd.labels[FORWARDER_POD_UID_LABEL] ?? '';
    const candidate = byUid.get(uid);
    if (candidate === undefined && !input.full) continue;
    if (fwd.deletionTimestamp !== undefined) {
      live.set(uid, fwd); // going already: no second delete, and no new one until it is gone
      continue;
    }
    const ended = fwd.phase === 'Failed' || fwd.phase === 'Succeeded';
    const unwanted = candidate === undefined ? pastGrace(fwd, input.now) : !wantsForwarder(candidate);
    if (ended || unwanted || fwd.name !== forwarderName(uid)) remove.push(fwd);
    else live.set(uid, fwd);
  }
  return { remove, live };
}

function pastGrace(fwd: LabelledPod, now: number): boolean {
  if (fwd.creationTimestamp === undefined) return true;
  return now - Date.parse(fwd.creationTimestamp) >= FORWARDER_GC_GRACE_MS;
}

function podRef(view: PodView): PodRef {
  return { namespace: view.namespace, name: view.name, uid: view.uid };
}

/** The forwarder pod of an anex pod (ADR 0024): unprivileged, tiny, on an ordinary node. */
export function forwarderManifest(config: ForwardingConfig, view: PodView): PodManifest {
  const ports = forwardPorts(view);
  const first = ports[0]?.port;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: forwarderName(view.uid),
      namespace: config.namespace,
      labels: { [FORWARDER_POD_UID_LABEL]: view.uid, 'app.kubernetes.io/name': FORWARDER_APP },
      annotations: { [FORWARDS_FOR_ANNOTATION]: `${view.namespace}/${view.name}` },
    },
    spec: {
      serviceAccountName: config.serviceAccount,
      // Its only credential is the projected token below: audience-bound to anex-kubelet and
      // bound to this pod, so it is worth nothing to the API server or another forwarder.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Always',
      // anex-kubelet forward lets open connections finish for 10 s after SIGTERM (--shutdown-grace).
      terminationGracePeriodSeconds: 15,
      // Never on a virtual node (they are tainted too, but a webhook may add tolerations).
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'type', operator: 'NotIn', values: ['virtual-kubelet'] }] },
            ],
          },
        },
      },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
        // A safe sysctl (namespaced): the pod's own ports below 1024 without any capability.
        sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
      },
      volumes: [
        {
          name: 'token',
          projected: {
            sources: [
              { serviceAccountToken: { audience: config.audience, expirationSeconds: 3600, path: 'token' } },
            ],
          },
        },
      ],
      containers: [
        {
          name: 'forward',
          image: config.image,
          command: ['anex-kubelet'],
          args: [
            'forward',
            '--pod-uid',
            view.uid,
            '--ports',
            ports.map((p) => p.port).join(','),
            '--kubelet-url',
            config.kubeletUrl,
            '--token-file',
            `${FORWARDER_TOKEN_DIR}/token`,
          ],
          ports: ports.map((p) => ({
            containerPort: p.port,
            protocol: 'TCP',
            ...(p.name === undefined ? {} : { name: p.name }),
          })),
          ...(first === undefined
            ? {}
            : { readinessProbe: { tcpSocket: { port: first }, periodSeconds: 5 } }),
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '500m', memory: '64Mi' } },
          securityContext: {
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [{ name: 'token', mountPath: FORWARDER_TOKEN_DIR, readOnly: true }],
        },
      ],
    },
  };
}

/**
 * One sync: lists the forwarders in `config.namespace` (one call), then creates, deletes
 * and addresses as {@link planForwarders} says. Never throws: each failure is in `errors`
 * (a failed list does nothing else) and the others go on.
 */
export async function syncForwarders(
  cluster: Cluster,
  config: ForwardingConfig,
  pods: readonly ForwardCandidate[],
  options: { now: number; full: boolean },
): Promise<ForwarderSync> {
  const result: ForwarderSync = { created: [], deleted: [], addressed: [], errors: [] };
  let existing: LabelledPod[];
  try {
    existing = await cluster.listLabelledPods(config.namespace, FORWARDER_POD_UID_LABEL);
  } catch (error) {
    result.errors.push(passError(`list forwarders in namespace ${config.namespace}`, error));
    return result;
  }
  const plan = planForwarders({ config, pods, existing, full: options.full, now: options.now });
  const attempt = async (scope: string, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      result.errors.push(passError(scope, error));
    }
  };
  for (const fwd of plan.delete) {
    await attempt(`delete forwarder ${fwd.namespace}/${fwd.name}`, async () => {
      if ((await cluster.deletePod(fwd)) === 'deleted') result.deleted.push(fwd.name);
    });
  }
  for (const manifest of plan.create) {
    const { namespace, name } = manifest.metadata;
    await attempt(`create forwarder ${namespace}/${name}`, async () => {
      if ((await cluster.createPod(manifest)) === 'created') result.created.push(name);
    });
  }
  for (const { pod, ip } of plan.address) {
    const id = `${pod.namespace}/${pod.name}`;
    await attempt(`set the address of pod ${id}`, async () => {
      if ((await cluster.setPodIP(pod, ip)) === 'updated') result.addressed.push(id);
    });
  }
  return result;
}
