import type { Requirements } from '../../annotations/requirements.ts';
import { type Offer, RUNPOD_CLOUD_TYPES } from '../../offers/offer.ts';
import { collectTagged } from '../common/tagged-list.ts';
import type {
  CallOptions,
  CreateResult,
  Instance,
  InstanceTag,
  LaunchSpec,
  ListOffersOptions,
  Provider,
} from '../provider.ts';
import { RunPodClient, type RunPodClientOptions } from './client.ts';
import { toCreateBody, toInstance, toInstanceState, toOffers } from './mapper.ts';

export interface RunPodProviderOptions extends RunPodClientOptions {
  /** This installation's cluster id; listTagged returns only its pods. Unset: every anex tag. */
  clusterId?: string;
}

/** The smallest GPU count asked for (the catalog's `count=` scopes availability). */
function minCount(requirements: Requirements): number {
  const c = requirements.gpuCount;
  if (!c) return 1;
  return Math.max(1, Math.floor('exact' in c ? c.exact : (c.min ?? 1)));
}

function minCuda(requirements: Requirements): string | undefined {
  const c = requirements.cuda;
  if (!c) return undefined;
  return 'exact' in c ? undefined : c.min;
}

/** {@link Provider} for RunPod REST v2 (providers.md §3). */
export class RunPodProvider implements Provider {
  readonly name = 'runpod' as const;
  readonly #client: RunPodClient;
  readonly #clusterId: string | undefined;

  constructor(options: RunPodProviderOptions) {
    const { clusterId, ...clientOptions } = options;
    this.#client = new RunPodClient(clientOptions);
    this.#clusterId = clusterId;
  }

  /** One catalog call per cloud tier, since per-data-center availability is scoped by `cloud=`. */
  async listOffers(requirements: Requirements, options: ListOffersOptions): Promise<Offer[]> {
    const dataCenters = await this.#client.listDataCenters(options);
    const clouds = requirements.runpod.cloudTypes ?? RUNPOD_CLOUD_TYPES;
    const offers: Offer[] = [];
    for (const cloud of clouds) {
      const gpus = await this.#client.listGpuTypes(
        { cloud, count: minCount(requirements), minCudaVersion: minCuda(requirements) },
        options,
      );
      offers.push(...toOffers(gpus, dataCenters, cloud));
    }
    return offers;
  }

  async create(
    offer: Offer,
    launch: LaunchSpec,
    tag: InstanceTag,
    options: CallOptions,
  ): Promise<CreateResult> {
    const answer = await this.#client.createPod(toCreateBody(offer, launch, tag), options);
    if (answer.kind === 'capacity') return { outcome: 'capacity', reason: answer.reason };
    if (answer.kind === 'refused') return { outcome: 'refused', reason: answer.reason };
    return { outcome: 'created', instance: toInstance(answer.pod) };
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
}
