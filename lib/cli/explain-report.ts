import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Requirements } from '../annotations/requirements.ts';
import { PROVIDER_ENV } from '../config/secrets.ts';
import { AnexError } from '../errors.ts';
import { type Explanation, explain } from '../filter/explain.ts';
import { select } from '../filter/select.ts';
import type { PodView } from '../kube/cluster.ts';
import { KubeCluster } from '../kube/kube-cluster.ts';
import type { ProviderEndpoint } from '../local/provider-env.ts';
import { providersFor } from '../local/provider-env.ts';
import { type Offer, PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../reconcile/config.ts';
import { mergeOffers, widenedForExplain } from '../reconcile/offers-widened.ts';
import { defaultRules } from '../reconcile/rules-default.ts';
import type { Ban, PodRecord, Store } from '../state/store.ts';

/** Everything `anex explain` knows about one pod. */
export interface ExplainReport {
  pod: {
    namespace: string;
    name: string;
    uid: string;
    phase?: string;
    node?: string;
    reason?: string;
    message?: string;
  };
  provider: ProviderName | undefined;
  requirements: { ok: true; value: Requirements } | { ok: false; errors: readonly string[] };
  /** undefined when no provider key is configured or the search failed (`offersError` says why) */
  offers?: { explanation: Explanation; candidates: readonly Offer[] };
  offersError?: string;
  bans: readonly Ban[];
  record: PodRecord | undefined;
  events: readonly { type: string; reason: string; message: string; count: number; last: string }[];
}

export interface ExplainInput {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  store: Store;
  providers: Partial<Record<ProviderName, ProviderEndpoint>>;
  now: number;
}

/** Reads the pod, its state record, the bans in force, live offers and recent events. */
export async function gatherExplain(input: ExplainInput): Promise<ExplainReport> {
  const cluster = new KubeCluster({ kubeConfig: input.kubeConfig });
  const view = await cluster.getPod(input.namespace, input.name);
  if (view === undefined) {
    throw new AnexError(`pod ${input.namespace}/${input.name} not found in the cluster of the kubeconfig`, {
      kind: 'invalid-input',
    });
  }
  const provider = providerOf(view);
  const parsed = provider === undefined ? undefined : defaultRules.requirements(view, provider);
  const bans = provider === undefined ? [] : await input.store.listBans(provider, input.now);
  const report: ExplainReport = {
    pod: podSummary(view),
    provider,
    requirements:
      parsed === undefined
        ? {
            ok: false,
            errors: [
              `the pod selects no anex node: set nodeSelector node-provider to ${PROVIDERS.join(' or ')}`,
            ],
          }
        : parsed.ok
          ? { ok: true, value: parsed.requirements }
          : { ok: false, errors: parsed.errors },
    bans,
    record: await input.store.getPod(view.uid),
    events: await recentEvents(input.kubeConfig, view),
  };
  if (provider !== undefined && parsed?.ok === true) {
    Object.assign(report, await liveOffers(input, provider, parsed.requirements, bans));
  }
  return report;
}

function providerOf(view: PodView): ProviderName | undefined {
  for (const [provider, node] of Object.entries(DEFAULT_RECONCILE_CONFIG.nodes)) {
    if (view.nodeName !== undefined && view.nodeName === node) return provider as ProviderName;
  }
  const selected = view.nodeSelector['node-provider'];
  return PROVIDERS.find((p) => p === selected);
}

function podSummary(view: PodView): ExplainReport['pod'] {
  return {
    namespace: view.namespace,
    name: view.name,
    uid: view.uid,
    ...(view.phase === undefined ? {} : { phase: view.phase }),
    ...(view.nodeName === undefined ? {} : { node: view.nodeName }),
    ...(view.status?.reason === undefined ? {} : { reason: view.status.reason }),
    ...(view.status?.message === undefined ? {} : { message: view.status.message }),
  };
}

async function liveOffers(
  input: ExplainInput,
  provider: ProviderName,
  requirements: Requirements,
  bans: readonly Ban[],
): Promise<Pick<ExplainReport, 'offers' | 'offersError'>> {
  const endpoint = input.providers[provider];
  if (endpoint === undefined) {
    return { offersError: `set ${PROVIDER_ENV[provider].apiKey} to search live ${provider} offers` };
  }
  try {
    const client = providersFor({ [provider]: endpoint }, DEFAULT_RECONCILE_CONFIG.clusterId)[provider];
    if (client === undefined) return { offersError: `no ${provider} client` };
    // The provider filters server-side, so the pod's own search returns only matches. Two
    // wider searches (nothing but the provider; only GPU model and count) bring in what the
    // filters remove, so the funnel and the near miss have something to show. Bans are not
    // pushed into any search: the funnel shows what they keep out.
    const searches = [requirements, ...widened(requirements)].map((r) => client.listOffers(r, {}));
    const [own = [], ...wider] = await Promise.all(searches);
    const offers = mergeOffers(own, wider.flat());
    return {
      offers: {
        explanation: explain(requirements, offers, bans, input.now),
        candidates: select(requirements, offers, bans, input.now),
      },
    };
  } catch (error) {
    return { offersError: `searching ${provider} offers failed: ${(error as Error).message}` };
  }
}

/** The pod's search widened twice: all but GPU model and count, then nothing but the provider. */
function widened(requirements: Requirements): Requirements[] {
  const gpuOnly = widenedForExplain(requirements);
  const { gpuNames: _names, gpuCount: _count, ...bare } = gpuOnly;
  return [gpuOnly, bare];
}

async function recentEvents(kubeConfig: KubeConfig, view: PodView): Promise<ExplainReport['events']> {
  const list = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace: view.namespace,
    fieldSelector: `involvedObject.uid=${view.uid}`,
  });
  return list.items
    .map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      message: e.message ?? '',
      count: e.count ?? 1,
      last: String(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? ''),
    }))
    .sort((a, b) => (a.last < b.last ? -1 : a.last > b.last ? 1 : 0))
    .slice(-10);
}
