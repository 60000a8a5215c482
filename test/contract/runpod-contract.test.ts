import { expect } from 'vitest';
import type { Offer } from '../../lib/offers/offer.ts';
import { RunPodClient } from '../../lib/providers/runpod/client.ts';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { aLaunch, aRegistryAuth, aRequirements, aTag, manualClock } from '../unit/providers/builders.ts';
import {
  type ContractSetup,
  describeContract,
  ignore,
  type Scenario,
  sharedScenarios,
  useContractSims,
} from './support/contract-suite.ts';
import {
  type Exchange,
  loadSpec,
  OpenApiValidator,
  recordingExchanges,
} from './support/openapi-validator.ts';

/**
 * Every request the RunPod client sends and every answer the RunPod simulator gives, checked
 * against RunPod's REST v2 OpenAPI (test/contract/schemas/runpod-v2.json).
 */
const validator = new OpenApiValidator(loadSpec('runpod-v2'), 'runpod', {
  // providers.md §3.8/§8.12: `GET /v2/pods` paging by `?cursor=` (answering
  // `pagination.nextCursor`/`hasNextPage`) is not in the docs spec but SkyPilot relies on it;
  // the client sends it only when a page named a next cursor. ListPodsResponse allows the
  // extra `pagination` field, so only the query parameter needs this allowance.
  extraQuery: ['cursor'],
});

function violations(exchange: Exchange): string[] {
  // The bogus request breaks the contract on purpose: only its 422 answer is checked.
  const problems = bogus(exchange) ? [] : specViolations(exchange);
  if (exchange.status === 422) {
    const answer = validator.validate({ ...exchange, requestBody: undefined });
    problems.push(...answer.filter((p) => !p.includes('required request body')));
  }
  return problems;
}

function bogus(exchange: Exchange): boolean {
  return Boolean((exchange.requestBody as { bogus?: unknown } | undefined)?.bogus);
}

function specViolations(exchange: Exchange): string[] {
  const problems = validator.validate(exchange);
  // providers.md §3.3: every authenticated v2 answer carries RateLimit headers; 429 adds Retry-After.
  if (exchange.status !== 401 && !exchange.headers.has('ratelimit'))
    problems.push('RateLimit header missing');
  if (exchange.status === 429 && !/^\d+$/.test(exchange.headers.get('retry-after') ?? '')) {
    problems.push('429 without an integer Retry-After');
  }
  return problems;
}

const clock = manualClock();
const sim = new RunPodSim({ seed: 31, now: clock.now, podsPageSize: 4 });
const guarded = new RunPodSim({ seed: 32, apiKeys: ['right-key'] });
const recorder = recordingExchanges();
let provider: RunPodProvider;
let stranger: RunPodProvider;
let rawClient: RunPodClient;
let strangerClient: RunPodClient;

let fastOptions: ContractSetup['fast'];
let openUrl = '';

useContractSims({ open: sim, guarded }, recorder, ({ url, guardedUrl, fast }) => {
  fastOptions = fast;
  openUrl = url;
  provider = new RunPodProvider({ baseUrl: url, apiKey: 'key', ...fast });
  stranger = new RunPodProvider({ baseUrl: guardedUrl, apiKey: 'wrong-key', ...fast });
  rawClient = new RunPodClient({ baseUrl: url, apiKey: 'key', fetch: recorder.fetch });
  strangerClient = new RunPodClient({ baseUrl: guardedUrl, apiKey: 'wrong-key', fetch: recorder.fetch });
});

async function stockedOffer(): Promise<Offer> {
  const offer = (await provider.listOffers(aRequirements('runpod'), {})).find((o) => o.gpuCount === 1);
  if (!offer?.gpuTypeId || !offer.dataCenterId || !offer.cloudType) throw new Error('no offer');
  sim.setStock(offer.gpuTypeId, offer.dataCenterId, offer.cloudType, 64);
  return offer;
}

async function rent(offer?: Offer): Promise<string> {
  const launch = aLaunch({ command: ['/agent'], args: ['run'], ports: ['8080/http'] });
  const result = await provider.create(offer ?? (await stockedOffer()), launch, aTag('contract'), {});
  if (result.outcome !== 'created') throw new Error(result.outcome);
  return result.instance.id;
}

const scenarios: Scenario[] = [
  [
    'catalog with every pushed parameter',
    () =>
      provider.listOffers(
        aRequirements('runpod', {
          gpuCount: { min: 2 },
          cuda: { min: '12.4' },
          runpod: { cloudTypes: ['SECURE', 'COMMUNITY'], keepGpuTypePriority: false },
        }),
        {},
      ),
  ],
  [
    'catalog and pods with a wrong key (401)',
    async () => {
      await ignore(stranger.listOffers(aRequirements('runpod'), {}));
      await ignore(strangerClient.listGpuTypes({ count: 1 }, {}));
      await ignore(stranger.get('abc', {}));
    },
  ],
  [
    'create without capacity (400)',
    async () => {
      const offer = await stockedOffer();
      sim.setStock(offer.gpuTypeId ?? '', offer.dataCenterId ?? '', offer.cloudType ?? 'SECURE', 0);
      await provider.create(offer, aLaunch(), aTag('contract'), {});
    },
  ],
  [
    'create with an unknown GPU type (400)',
    async () =>
      ignore(
        provider.create(
          { ...(await stockedOffer()), gpuTypeId: 'NVIDIA Nope' },
          aLaunch(),
          aTag('contract'),
          {},
        ),
      ),
  ],
  [
    'create on a GPU pool closed to the key (403)',
    async () => {
      const offer = await stockedOffer();
      sim.setPoolForbidden(offer.gpuTypeId ?? '');
      await provider.create(offer, aLaunch(), aTag('contract'), {});
    },
  ],
  [
    'create without balance (402)',
    async () => {
      const offer = await stockedOffer();
      sim.setBalance(0);
      await ignore(provider.create(offer, aLaunch(), aTag('contract'), {}));
    },
  ],
  // The answer is what is checked here; the request deliberately breaks the contract.
  [
    'create breaking the contract (422)',
    () => ignore(rawClient.createPod({ name: 'x', image: 'i', bogus: 1 }, {})),
  ],
  [
    'list pods over several cursor pages',
    async () => {
      const offer = await stockedOffer();
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) ids.push(await rent(offer));
      clock.advance(100);
      await provider.listTagged({});
      for (const id of ids) await provider.destroy(id, {});
    },
  ],
  [
    'a private image: its registry credential made (201), found (200), named in the create, refused while in use (400), swept (204)',
    async () => {
      const keeper = new RunPodProvider({ baseUrl: openUrl, apiKey: 'key', ...fastOptions, now: clock.now });
      const launch = aLaunch({ image: 'ghcr.io/example/private-trainer:1', registryAuth: aRegistryAuth() });
      const created = await keeper.create(await stockedOffer(), launch, aTag('contract'), {});
      if (created.outcome !== 'created') throw new Error(created.outcome);
      const [registry] = await rawClient.listRegistries({});
      expect(await rawClient.deleteRegistry(registry?.id ?? '', {})).toBe('in-use');
      await keeper.destroy(created.instance.id, {});
      clock.advance(11 * 60_000);
      expect(await keeper.sweepCredentials({})).toBe(1);
      expect(await rawClient.deleteRegistry(registry?.id ?? '', {})).toBe('gone');
    },
  ],
  [
    'registry credentials: a taken name (400), a login breaking the contract (422), a create naming an unknown one (404)',
    async () => {
      const input = { name: 'anex.contract.registry.0123456789abcdef.1', username: 'u', password: 'p' };
      const made = await rawClient.createRegistry(input, {});
      expect((await rawClient.createRegistry(input, {})).kind).toBe('taken');
      // The request breaks the contract on purpose (`bogus`): only its 422 answer is checked.
      const bogus = { ...input, name: 'other', bogus: 1 } as typeof input;
      await ignore(rawClient.createRegistry(bogus, {}));
      const offer = await stockedOffer();
      const answer = await rawClient.createPod(
        {
          name: 'x',
          image: 'ghcr.io/example/private-trainer:1',
          gpu: { id: offer.gpuTypeId, count: 1 },
          cloud: offer.cloudType,
          dataCenterIds: [offer.dataCenterId],
          registry: 'no-such-credential',
        },
        {},
      );
      expect(answer.kind).toBe('registry-gone');
      if (made.kind === 'created') await rawClient.deleteRegistry(made.id, {});
    },
  ],
  ...sharedScenarios({
    sim,
    clock,
    lifecycle: { name: 'create, get through every state, delete twice', steps: [0, 6, 11, 11] },
    provider: () => provider,
    offer: stockedOffer,
    rent,
    readEndpoint: 'get',
    gatewayStatus: 503,
  }),
];

describeContract({
  title: 'RunPod REST v2 contract (client requests and simulator answers vs OpenAPI)',
  scenarios,
  recorder,
  violations,
  covered: validator.covered,
  relied: [
    'GET /v2/catalog/gpus 200',
    'GET /v2/catalog/gpus 401',
    'GET /v2/catalog/datacenters 200',
    'GET /v2/catalog/datacenters 401',
    'POST /v2/pods 201',
    'POST /v2/pods 400',
    'POST /v2/pods 402',
    'POST /v2/pods 403',
    'POST /v2/pods 422',
    'POST /v2/pods 429',
    'GET /v2/pods 200',
    'GET /v2/pods/{id} 200',
    'GET /v2/pods/{id} 401',
    'GET /v2/pods/{id} 404',
    'GET /v2/pods/{id} 500',
    'GET /v2/pods/{id} 503',
    'DELETE /v2/pods/{id} 204',
    'DELETE /v2/pods/{id} 404',
    'POST /v2/pods 404',
    'GET /v2/registries 200',
    'POST /v2/registries 201',
    'POST /v2/registries 400',
    'POST /v2/registries 422',
    'DELETE /v2/registries/{id} 204',
    'DELETE /v2/registries/{id} 400',
    'DELETE /v2/registries/{id} 404',
  ],
});
