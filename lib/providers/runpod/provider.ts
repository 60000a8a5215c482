import type { Requirements } from '../../annotations/requirements.ts';
import { AnexError } from '../../errors.ts';
import { type Offer, RUNPOD_CLOUD_TYPES } from '../../offers/offer.ts';
import { collectTagged } from '../common/tagged-list.ts';
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
import { RunPodClient, type RunPodClientOptions, type RunPodCreateAnswer, runPodServer } from './client.ts';
import { type RunPodLogReaderOptions, readPodLogs } from './logs.ts';
import { floorsAtCreate, toCreateBody, toInstance, toInstanceState, toOffers } from './mapper.ts';
import { RunPodRegistries } from './registries.ts';

export interface RunPodProviderOptions extends RunPodClientOptions {
  /** This installation's cluster id; listTagged returns only its pods. Unset: every anex tag. */
  clusterId?: string;
  /** Told about each catalog row anex cannot read (skipped). @default a line on stderr */
  onOddRow?: (message: string) => void;
}

/** The most GPUs one RunPod pod gets (the catalog's `maxCount` ceilings). */
const MAX_COUNT = 8;
/** How long the data-center list is reused: it changes with RunPod's fleet, not per pass. */
const DATA_CENTERS_TTL_MS = 10 * 60_000;

/**
 * The GPU counts to read the catalog for — availability is per count (`count=`), as gpuhunt
 * reads it: every count the pod allows, up to {@link MAX_COUNT}; one GPU when it says nothing
 * (the cheapest fit, and one catalog read per tier instead of eight).
 */
export function catalogCounts(requirements: Requirements): number[] {
  const c = requirements.gpuCount;
  if (!c) return [1];
  const low = Math.max(1, Math.ceil('exact' in c ? c.exact : (c.min ?? 1)));
  const high = Math.min(MAX_COUNT, Math.floor('exact' in c ? c.exact : (c.max ?? MAX_COUNT)));
  return Array.from({ length: Math.max(0, high - low + 1) }, (_, i) => low + i);
}

function minCuda(requirements: Requirements): string | undefined {
  const c = requirements.cuda;
  if (!c) return undefined;
  return 'exact' in c ? undefined : c.min;
}

/**
 * RunPod reports no vCPUs or RAM per GPU type, but places a pod only on a host with at least
 * the per-GPU floors its create names (`gpu.minVcpuCountPerGpu` / `minRamPerGpu`, sent from
 * the same requirements: mapper.ts `floorsAtCreate`). So an offer carries the floor the create
 * will enforce — what the pod asked for, rounded up per GPU — and the filter sees that; no host
 * with it answers the create 400 (capacity), and the next candidate is tried.
 */
function withPlacementFloors(offer: Offer, requirements: Requirements): Offer {
  const cpuCores = minOf(requirements.cpuCores);
  const ramMb = minOf(requirements.ramMb);
  const floors = floorsAtCreate(
    { ...(cpuCores === undefined ? {} : { cpuCores }), ...(ramMb === undefined ? {} : { ramMb }) },
    offer.gpuCount,
  );
  const count = Math.max(1, offer.gpuCount);
  return {
    ...offer,
    ...(floors.minVcpuCountPerGpu === undefined ? {} : { cpuCores: floors.minVcpuCountPerGpu * count }),
    ...(floors.minRamPerGpu === undefined ? {} : { ramMb: floors.minRamPerGpu * 1024 * count }),
  };
}

function minOf(c: Requirements['cpuCores']): number | undefined {
  return c === undefined ? undefined : 'exact' in c ? c.exact : c.min;
}

/** {@link Provider} for RunPod REST v2 (providers.md §3). */

export class RunPodProvider implements Provider {
  readonly name = 'runpod' as const;
  /** RunPod sets RUNPOD_POD_ID, the pod's id, in every pod (docs.runpod.io pods/templates/environment-variables). */
  readonly instanceIdEnv = 'RUNPOD_POD_ID';
  readonly #client: RunPodClient;
  readonly #clusterId: string | undefined;
  readonly #onOddRow: (message: string) => void;
  readonly #registries: RunPodRegistries;
  readonly #logReader: RunPodLogReaderOptions;
  #dataCenters: { body: unknown; at: number } | undefined;

  constructor(options: RunPodProviderOptions) {
    const { clusterId, onOddRow, ...clientOptions } = options;
    this.#client = new RunPodClient(clientOptions);
    this.#clusterId = clusterId;
    this.#logReader = {
      server: runPodServer(clientOptions.baseUrl),
      apiKey: clientOptions.apiKey,
      fetch: clientOptions.fetch,
    };
    this.#registries = new RunPodRegistries({
      client: this.#client,
      clusterId,
      now: clientOptions.now ?? Date.now,
    });
    // Told once per row and provider: the same odd row comes back on every catalog read.
    const told = new Set<string>();
    const tell = onOddRow ?? ((message) => process.stderr.write(`anex: ${message}\n`));
    this.#onOddRow = (message) => {
      if (told.has(message)) return;
      told.add(message);
      tell(message);
    };
  }

  /**
   * One catalog call per cloud tier and GPU count: per-data-center availability is scoped by
   * `cloud=` and `count=` (runpod audit #4). The data-center list is reused for 10 minutes.
   */
  async listOffers(requirements: Requirements, options: ListOffersOptions): Promise<Offer[]> {
    const dataCenters = await this.#dataCenterList(options);
    const clouds = requirements.runpod.cloudTypes ?? RUNPOD_CLOUD_TYPES;
    const offers: Offer[] = [];
    for (const cloud of clouds) {
      for (const count of catalogCounts(requirements)) {
        const gpus = await this.#client.listGpuTypes(
          { cloud, count, minCudaVersion: minCuda(requirements) },
          options,
        );
        const listed = toOffers(gpus, dataCenters, { cloud, count, onOddRow: this.#onOddRow });
        offers.push(...listed.map((offer) => withPlacementFloors(offer, requirements)));
      }
    }
    return offers;
  }

  async #dataCenterList(options: CallOptions): Promise<unknown> {
    const now = Date.now();
    if (this.#dataCenters !== undefined && now - this.#dataCenters.at < DATA_CENTERS_TTL_MS) {
      return this.#dataCenters.body;
    }
    const body = await this.#client.listDataCenters(options);
    this.#dataCenters = { body, at: now };
    return body;
  }

  async create(
    offer: Offer,
    launch: LaunchSpec,
    tag: InstanceTag,
    options: CallOptions,
  ): Promise<CreateResult> {
    const answer = await this.#createPod(offer, launch, tag, options);
    if (answer.kind === 'capacity') return { outcome: 'capacity', reason: answer.reason };
    if (answer.kind === 'refused') return { outcome: 'refused', reason: answer.reason };
    return { outcome: 'created', instance: toInstance(answer.pod) };
  }

  /**
   * The create, with the pod's registry credential when its image is private (made or found
   * first, ADR 0016). A credential swept since it was looked up (404) is looked up again and
   * the create resent once: RunPod made nothing.
   */
  async #createPod(
    offer: Offer,
    launch: LaunchSpec,
    tag: InstanceTag,
    options: CallOptions,
  ): Promise<Exclude<RunPodCreateAnswer, { kind: 'registry-gone' }>> {
    const auth = launch.registryAuth;
    const send = async () =>
      this.#client.createPod(
        toCreateBody(offer, launch, tag, auth && (await this.#registries.idFor(auth, options))),
        options,
      );
    const answer = await send();
    if (answer.kind !== 'registry-gone') return answer;
    if (auth === undefined)
      throw new AnexError('runpod answered 404 to a pod create', { kind: 'unavailable' });
    this.#registries.forget(auth);
    const again = await send();
    if (again.kind !== 'registry-gone') return again;
    throw new AnexError(
      `runpod does not know the registry credential anex made for imagePullSecret "${auth.secret}"; retrying on the next pass`,
      { kind: 'unavailable' },
    );
  }

  async get(instanceId: string, options: CallOptions): Promise<Instance> {
    const pod = await this.#client.getPod(instanceId, options);
    return pod ? toInstance(pod) : { id: instanceId, provider: 'runpod', state: toInstanceState(null) };
  }

  listTagged(options: CallOptions): Promise<Instance[]> {
    return collectTagged({
      fetchPage: async (cursor) => {
        const page = await this.#client.listPodsPage(cursor, options);
        return { instances: page.pods.map(toInstance), next: page.nextCursor };
      },
      clusterId: this.#clusterId,
      repeatedCursor: (cursor) => `runpod GET /v2/pods repeated cursor ${cursor}`,
    });
  }

  destroy(instanceId: string, options: CallOptions): Promise<'destroyed' | 'gone'> {
    return this.#client.deletePod(instanceId, options);
  }

  /** The pod's container log (logs.ts): what the stream carried within its read window. */
  logs(instanceId: string, options: LogOptions): Promise<string[]> {
    return readPodLogs(this.#logReader, instanceId, options);
  }

  /**
   * This cluster's registry credentials no pod names any more, past their grace (ADR 0016,
   * {@link RunPodRegistries.sweep}). @returns how many were deleted.
   */
  sweepCredentials(options: CallOptions): Promise<number> {
    return this.#registries.sweep(options);
  }
}
