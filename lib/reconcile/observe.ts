import { pullCredentials } from '../images/pull-secrets.ts';
import type { Cluster, PodView } from '../kube/cluster.ts';
import { podFields, resolveEnv } from '../kube/env.ts';
import { podMounts, resolveVolumes } from '../kube/volumes.ts';
import type { Offer, ProviderName } from '../offers/offer.ts';
import type { Instance, Provider } from '../providers/provider.ts';
import type { Ban, PodRecord, Store } from '../state/store.ts';
import type { ReconcileConfig } from './config.ts';
import type { ExplainSearchCache } from './explain-cache.ts';
import { widenedForExplain } from './offers-widened.ts';
import { type PassError, passError } from './pass-errors.ts';
import type { OfferRequest } from './plan-env.ts';
import { isCooldownKey, type OfferRules } from './rules.ts';
import type { Observed, ObservedPod, OfferListing } from './types.ts';

export interface ObserveDeps {
  store: Store;
  cluster: Cluster;
  providers: Partial<Record<ProviderName, Provider>>;
  config: ReconcileConfig;
  rules: OfferRules;
  /** whether the launch runs the anex agent (what a pod's spec may ask for depends on it) */
  launch?: { readonly agent?: boolean };
  /** the explain-only wider searches across passes; unset = searched again every pass */
  explainCache?: ExplainSearchCache;
}

export interface ObserveOptions {
  now: number;
  deadline?: number;
  signal?: AbortSignal;
  /** only this pod (the per-pod queue); orphans are then left to the full pass */
  podUid?: string;
}

/**
 * Reads everything the plan needs, once, in an order that keeps garbage collection safe
 * under concurrent passes: records first, then pods, then instances. A record we see was
 * written by a pass that had already seen its pod bound, so its pod is in our list unless
 * it is really gone; an instance we see without record or pod is only collected after a
 * grace (its creator may have listed pods after us).
 *
 * Calls: 1 paged record query, 1 pod list per virtual node, 1 ban read and 1 listTagged per
 * provider — whatever the number of pods. A failed read marks what it covers unknown
 * rather than failing the pass, except the records (nothing is safe without them).
 */
export async function observe(
  deps: ObserveDeps,
  options: ObserveOptions,
): Promise<{ observed: Observed; errors: PassError[] }> {
  const { now } = options;
  const errors: PassError[] = [];
  const records = await deps.store.listPods();
  const active = (Object.keys(deps.config.nodes) as ProviderName[]).filter(
    (p) => deps.providers[p] !== undefined,
  );
  const perProvider = await Promise.all(
    active.map((provider) => observeProvider(deps, provider, options, errors)),
  );

  const byUid = new Map(records.map((r) => [r.podUid, r]));
  const pods: ObservedPod[] = [];
  const seenPods = new Set<string>();
  const bans: Partial<Record<ProviderName, readonly Ban[]>> = {};
  for (const side of perProvider) {
    if (side.bans !== undefined) bans[side.provider] = side.bans;
    for (const view of side.pods ?? []) {
      seenPods.add(view.uid);
      if (options.podUid !== undefined && view.uid !== options.podUid) continue;
      pods.push(observedPod(deps, view, side, byUid.get(view.uid)));
    }
  }
  await checkEnv(deps, pods);
  await readPullSecrets(deps, pods);
  const observed: Observed = {
    now,
    pods,
    ...orphans(records, seenPods, perProvider, options.podUid !== undefined),
    bans,
    offers: new Map(),
    providersDown: perProvider.filter((s) => s.instances === undefined).map((s) => s.provider),
  };
  const unlisted = perProvider.filter((s) => s.pods === undefined).map((s) => s.provider);
  if (unlisted.length > 0) observed.podsUnlisted = unlisted;
  if (options.podUid !== undefined) observed.others = othersOf(records, perProvider, options.podUid);
  return { observed, errors };
}

/**
 * The pre-rent check of env and volumes from Secrets and ConfigMaps (kubelet's
 * CreateContainerConfigError and FailedMount),
 * for pods about to be rented: a missing source or key holds the pod instead of renting a
 * machine its agent could not configure. The values read are dropped here: only the error's
 * words (names, never values) are kept. A read that fails (RBAC, API down) is said the same way.
 */
async function checkEnv(deps: ObserveDeps, pods: ObservedPod[]): Promise<void> {
  // Without the agent such a pod is refused by its requirements: nothing is read for it.
  if (deps.launch?.agent !== true) return;
  const fresh = pods.filter(
    (op) =>
      (op.record === undefined || op.record.stage === 'pending') &&
      op.view.deletionTimestamp === undefined &&
      [...(op.view.initContainers ?? []), ...op.view.containers].some(
        (c) => c.envSpec !== undefined || (c.mounts ?? []).length > 0,
      ),
  );
  await Promise.all(
    fresh.map(async (op) => {
      const mount = await mountError(deps, op);
      if (mount !== undefined) op.mountError = mount;
      for (const container of [...(op.view.initContainers ?? []), ...op.view.containers]) {
        if (container.envSpec === undefined) continue;
        const outcome = await resolveEnv(
          container.envSpec,
          podFields(op.view),
          container.resources ?? {},
          (kind, name) => deps.cluster.readEnvSource(op.view.namespace, kind, name),
        ).catch((error: unknown) => ({
          ok: false as const,
          message: error instanceof Error ? error.message : String(error),
        }));
        if (!outcome.ok) {
          op.envError = outcome.message;
          return;
        }
      }
    }),
  );
}

/**
 * The logins for the image's registry from the pod's imagePullSecrets, for pods about to be
 * rented (kubelet reads them at pull time): kept in memory for this pass only — the image
 * check and the provider's create use them — never stored or logged. A Secret that is missing
 * or cannot be read is skipped, as the kubelet skips it, and named for a warning event; one
 * whose docker config cannot be read fails the pull, as in the kubelet.
 */
async function readPullSecrets(deps: ObserveDeps, pods: ObservedPod[]): Promise<void> {
  const fresh = pods.filter(
    (op) =>
      (op.record === undefined || op.record.stage === 'pending') &&
      op.view.deletionTimestamp === undefined &&
      (op.view.imagePullSecrets ?? []).length > 0,
  );
  await Promise.all(
    fresh.map(async (op) => {
      const found = await pullCredentials(deps.cluster, op.view);
      if (found.auths.length > 0) op.pullAuths = found.auths;
      if (found.missing.length > 0)
        op.pullSecretsMissing = {
          names: found.missing,
          ...(found.forbidden === undefined ? {} : { forbidden: found.forbidden }),
        };
      if (found.error !== undefined) op.pullSecretError = found.error;
    }),
  );
}

/** The first volume that cannot be made now, in kubelet's words; the files read are dropped. */
async function mountError(deps: ObserveDeps, op: ObservedPod): Promise<string | undefined> {
  const { view } = op;
  const mounts = podMounts(view);
  if (mounts.length === 0) return undefined;
  const outcome = await resolveVolumes(view.volumes ?? [], mounts, {
    fields: podFields(view),
    resources: Object.fromEntries(view.containers.map((c) => [c.name, c.resources ?? {}])),
    read: (kind, name) => deps.cluster.readSourceFiles(view.namespace, kind, name),
  }).catch((error: unknown) => ({
    ok: false as const,
    message: error instanceof Error ? error.message : String(error),
  }));
  return outcome.ok ? undefined : outcome.message;
}

function observedPod(
  deps: ObserveDeps,
  view: PodView,
  side: ProviderSide,
  record: PodRecord | undefined,
): ObservedPod {
  let requirements: ObservedPod['requirements'] | undefined;
  return {
    view,
    provider: side.provider,
    record,
    instances: side.instances?.get(view.uid) ?? (side.instances === undefined ? undefined : []),
    // Parsed on first use: a Running pod's plan never needs its requirements (steady state stays cheap).
    get requirements() {
      requirements ??= deps.rules.requirements(view, side.provider, { agent: deps.launch?.agent === true });
      return requirements;
    },
  };
}

interface ProviderSide {
  provider: ProviderName;
  /** undefined: the node's pod list failed */
  pods: PodView[] | undefined;
  /** our non-gone tagged instances by pod uid; undefined: listTagged failed */
  instances: Map<string, Instance[]> | undefined;
  bans: Ban[] | undefined;
}

async function observeProvider(
  deps: ObserveDeps,
  provider: ProviderName,
  options: ObserveOptions,
  errors: PassError[],
): Promise<ProviderSide> {
  const node = deps.config.nodes[provider] as string;
  const client = deps.providers[provider] as Provider;
  const call = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.deadline ? { deadline: options.deadline } : {}),
  };
  // Pods are listed before instances (see observe): awaited first, the rest in parallel.
  const pods = await attempt(() => deps.cluster.listPods(node), `list pods on node ${node}`, errors);
  const [tagged, bans] = await Promise.all([
    attempt(() => client.listTagged(call), `list ${provider} instances`, errors),
    attempt(() => deps.store.listBans(provider, options.now), `read ${provider} bans`, errors),
  ]);
  return { provider, pods, instances: tagged && groupByPod(tagged, deps.config.clusterId), bans };
}

function groupByPod(instances: readonly Instance[], clusterId: string): Map<string, Instance[]> {
  const byPod = new Map<string, Instance[]>();
  for (const instance of instances) {
    // Another installation sharing the account owns instances with another cluster id: never ours to touch.
    if (instance.tag?.clusterId !== clusterId || instance.state.phase === 'gone') continue;
    const list = byPod.get(instance.tag.podUid) ?? [];
    list.push(instance);
    byPod.set(instance.tag.podUid, list);
  }
  return byPod;
}

/** What a per-pod pass leaves out, for the spend limits (Observed.others). */
function othersOf(
  records: readonly PodRecord[],
  sides: readonly ProviderSide[],
  podUid: string,
): NonNullable<Observed['others']> {
  const instances = new Map<string, Instance[]>();
  for (const side of sides) for (const [uid, list] of side.instances ?? []) instances.set(uid, list);
  const others = records.filter((r) => r.podUid !== podUid);
  const known = new Set([podUid, ...others.map((r) => r.podUid)]);
  return {
    records: others.map((record) => ({ record, instances: instances.get(record.podUid) })),
    instances: [...instances].filter(([uid]) => !known.has(uid)).flatMap(([, list]) => list),
  };
}

/** Records and instances whose pod is in no node list; only trusted when every list they depend on succeeded. */
function orphans(
  records: readonly PodRecord[],
  seenPods: ReadonlySet<string>,
  sides: readonly ProviderSide[],
  filtered: boolean,
): Pick<Observed, 'orphanRecords' | 'orphanInstances'> {
  if (filtered) return { orphanRecords: [], orphanInstances: [] };
  const side = new Map(sides.map((s) => [s.provider, s]));
  const orphanRecords = records
    .filter((r) => !seenPods.has(r.podUid) && side.get(r.provider)?.pods !== undefined)
    .map((record) => {
      const instances = side.get(record.provider)?.instances;
      return {
        record,
        instances: instances === undefined ? undefined : (instances.get(record.podUid) ?? []),
      };
    });
  // An instance's tag does not say which node its pod was on: collect only when every node was listed.
  if (sides.some((s) => s.pods === undefined)) return { orphanRecords, orphanInstances: [] };
  const known = new Set([...seenPods, ...records.map((r) => r.podUid)]);
  const orphanInstances = sides.flatMap((s) =>
    [...(s.instances?.entries() ?? [])].filter(([uid]) => !known.has(uid)).flatMap(([, list]) => list),
  );
  return { orphanRecords, orphanInstances };
}

/**
 * Lists offers once per distinct requirement set the plan asked for, with the provider's
 * bans pushed down; a failed listing is kept as a value so only the pods that need it wait.
 */
export async function observeOffers(
  deps: ObserveDeps,
  observed: Observed,
  requests: readonly OfferRequest[],
  options: ObserveOptions,
): Promise<Observed> {
  const offers = new Map<string, OfferListing>();
  const call = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.deadline ? { deadline: options.deadline } : {}),
  };
  await Promise.all(
    requests.map(async (request) => {
      const client = deps.providers[request.provider];
      // Offer cooldowns share the ban store but are not machine ids: never pushed to the vendor.
      const banned = (observed.bans[request.provider] ?? [])
        .map((b) => b.machineId)
        .filter((id) => !isCooldownKey(id));
      if (client === undefined) return;
      try {
        const listed = await client.listOffers(request.requirements, { ...call, excludeMachineIds: banned });
        if (listed.length > 0) {
          offers.set(request.key, { ok: true, offers: listed });
          return;
        }
        // Bans are not pushed into the wider search: the funnel shows what they keep out.
        const wider = await widerSearch(deps, client, request, call, options.now);
        offers.set(request.key, { ok: true, offers: listed, forExplain: wider });
      } catch (error) {
        offers.set(request.key, {
          ok: false,
          error: passError(`list ${request.provider} offers`, error).message,
        });
      }
    }),
  );
  return { ...observed, offers };
}

/** The explain-only search, from the cache when fresh; a failure explains less, never fails the pod. */
async function widerSearch(
  deps: ObserveDeps,
  client: Provider,
  request: OfferRequest,
  call: { signal?: AbortSignal; deadline?: number },
  now: number,
): Promise<readonly Offer[]> {
  // The key is the requirement set's stable JSON, the provider included.
  const cached = deps.explainCache?.get(request.key, now);
  if (cached !== undefined) return cached;
  try {
    const wider = await client.listOffers(widenedForExplain(request.requirements), call);
    deps.explainCache?.set(request.key, wider, now);
    return wider;
  } catch {
    return [];
  }
}

async function attempt<T>(read: () => Promise<T>, what: string, errors: PassError[]): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    errors.push(passError(what, error));
    return undefined;
  }
}
