import type { Requirements } from '../../annotations/requirements.ts';
import type { Offer } from '../../offers/offer.ts';
import type { PaceStore } from '../../state/store.ts';
import { collectTagged } from '../common/tagged-list.ts';
import { IntervalPacer, paceScaleFromEnv } from '../pacing/interval-pacer.ts';
import type {
  CallOptions,
  CreateResult,
  Instance,
  InstanceTag,
  LaunchSpec,
  ListOffersOptions,
  LogOptions,
  Provider,
} from '../provider.ts';
import { VAST_DEFAULT_BASE_URL, VastAiClient, type VastClientOptions } from './client.ts';
import { readInstanceLogs, type VastLogFetchOptions } from './logs.ts';
import { toCreateBody, toInstance, toInstanceState, toOffer } from './mapper.ts';
import { VAST_PACE } from './pacing.ts';
import { buildSearchBody, vastGpuNames } from './search-body.ts';

export interface VastAiProviderOptions extends VastClientOptions {
  /** This installation's cluster id; listTagged returns only its instances. Unset: every anex tag. */
  clusterId?: string;
  /** Offers asked for per search. @default 1000 */
  searchLimit?: number;
  /**
   * Told about each row of the instance list that is not an instance as anex reads it; the
   * row is skipped so adoption and clean-up go on for the others (vast audit). Never given
   * values, only the id and what is wrong. @default a line on stderr
   */
  onOddRow?: (message: string) => void;
  /**
   * Where request slots are kept (ADR 0011): the state table, so every process of this
   * installation shares Vast's per-key budget. @default this process's memory
   */
  paceLedger?: PaceStore;
  /**
   * Shrinks Vast's intervals for a simulator running its limits on the same factor; ignored
   * for the real service. @default ANEX_SIM_PACE_SCALE, else 1
   */
  paceScale?: number;
}

/** {@link Provider} for Vast.ai (providers.md §2). */
export class VastAiProvider implements Provider {
  readonly name = 'vastai' as const;
  /** Vast sets CONTAINER_ID, the instance (contract) id, in every container (docs.vast.ai docker-environment; vast audit). */
  readonly instanceIdEnv = 'CONTAINER_ID';
  readonly #client: VastAiClient;
  readonly #clusterId: string | undefined;
  readonly #searchLimit: number;
  readonly #onOddRow: (message: string) => void;
  readonly #logFetch: VastLogFetchOptions;

  constructor(options: VastAiProviderOptions) {
    const { clusterId, searchLimit, onOddRow, paceLedger, paceScale, ...clientOptions } = options;
    this.#onOddRow = onOddRow ?? ((message) => process.stderr.write(`anex: ${message}\n`));
    const origin = new URL(clientOptions.baseUrl ?? VAST_DEFAULT_BASE_URL).origin;
    const pacer =
      clientOptions.pacer ??
      new IntervalPacer({
        prefix: `vastai@${origin}`,
        rules: VAST_PACE,
        ...(paceLedger === undefined ? {} : { ledger: paceLedger }),
        ...(origin === VAST_DEFAULT_BASE_URL
          ? {}
          : { scale: paceScale ?? paceScaleFromEnv(process.env) ?? 1 }),
      });
    this.#client = new VastAiClient({ ...clientOptions, pacer });
    this.#clusterId = clusterId;
    this.#logFetch = {
      apiBaseUrl: clientOptions.baseUrl ?? VAST_DEFAULT_BASE_URL,
      fetch: clientOptions.fetch,
    };
    this.#searchLimit = searchLimit ?? 1000;
  }

  async listOffers(requirements: Requirements, options: ListOffersOptions): Promise<Offer[]> {
    // Only names another provider lists (the parser refused the rest): no Vast offer matches.
    if (requirements.gpuNames && vastGpuNames(requirements.gpuNames).length === 0) return [];
    const body = buildSearchBody(requirements, {
      excludeMachineIds: options.excludeMachineIds,
      limit: this.#searchLimit,
    });
    const rows = await this.#client.searchOffers(body, options);
    // The server-side notin was reported ignored at times (providers.md §2.4): enforce bans here too.
    const banned = new Set(options.excludeMachineIds ?? []);
    return rows.map(toOffer).filter((offer) => !offer.machineId || !banned.has(offer.machineId));
  }

  async create(
    offer: Offer,
    launch: LaunchSpec,
    tag: InstanceTag,
    options: CallOptions,
  ): Promise<CreateResult> {
    // The registry password rides in the body: no answer quoting it reaches an error.
    const secrets = launch.registryAuth === undefined ? [] : [launch.registryAuth.password];
    const answer = await this.#client.createInstance(
      offer.offerId,
      toCreateBody(launch, tag),
      options,
      secrets,
    );
    if (answer.kind === 'offer-gone') return { outcome: 'offer-gone', reason: answer.reason };
    const instance: Instance = {
      id: String(answer.instanceId),
      provider: 'vastai',
      tag,
      state: { phase: 'pending' },
      gpuName: offer.gpuName,
      gpuCount: offer.gpuCount,
      pricePerHour: offer.pricePerHour,
      ...(offer.machineId === undefined ? {} : { machineId: offer.machineId }),
    };
    return { outcome: 'created', instance };
  }

  async get(instanceId: string, options: CallOptions): Promise<Instance> {
    const raw = await this.#client.showInstance(instanceId, options);
    if (!raw) return { id: instanceId, provider: 'vastai', state: toInstanceState(null) };
    return toInstance(raw);
  }

  listTagged(options: CallOptions): Promise<Instance[]> {
    return collectTagged({
      fetchPage: async (token) => {
        const page = await this.#client.listInstancesPage(token, options);
        for (const odd of page.skipped) {
          this.#onOddRow(
            `vastai: skipped instance ${odd.id ?? '(no id)'} in GET /api/v1/instances/: ${odd.problem}`,
          );
        }
        return { instances: page.instances.map(toInstance), next: page.nextToken };
      },
      clusterId: this.#clusterId,
      repeatedCursor: (token) => `vastai GET /api/v1/instances/ repeated next_token ${token}`,
    });
  }

  destroy(instanceId: string, options: CallOptions): Promise<'destroyed' | 'gone'> {
    return this.#client.destroyInstance(instanceId, options);
  }

  /** The container log through `request_logs` and its upload (logs.ts). */
  logs(instanceId: string, options: LogOptions): Promise<string[]> {
    return readInstanceLogs(this.#client, this.#logFetch, instanceId, options);
  }
}
