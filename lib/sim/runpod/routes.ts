import type { BootPlans } from '../common/boot-plans.ts';
import { type ContainerStart, startContainer } from '../common/container.ts';
import { bearerToken, INVALID_JSON, type SimRequest, type SimResponse } from '../common/http-server.ts';
import { findSimImage, imageRegistry, pullAllowed, type SimImage } from '../common/images.ts';
import type { Rng } from '../common/rng.ts';
import type { SimRoute } from '../common/sim-core.ts';
import {
  availabilityOf,
  type Cloud,
  RUNPOD_DATA_CENTERS,
  RUNPOD_GPU_TYPES,
  type SimGpuType,
  stockKey,
} from './catalog.ts';
import { podLogs } from './logs.ts';
import { type PodRecord, type RunPodBootPlan, type RunPodTimings, renderPod } from './pods.ts';
import { registryRoutes, type SimRegistryCredential } from './registries.ts';
import { CREATE_POD_MAX_BYTES, createPodErrors } from './validate.ts';

/** The state the RunPod routes read and change (owned by {@link RunPodSim}). */
export interface RunPodState {
  stock: Map<string, number>;
  pods: Map<string, PodRecord>;
  /** Boot plans by image or by GPU type id. */
  plans: BootPlans<string, RunPodBootPlan>;
  /** GPU type ids whose pool answers create with 403 (a key without access to that pool). */
  forbiddenPools: Set<string>;
  /** `<gpu type id>|<data center id>` → the detail of a 400 the placement answers (a cross-field rule) */
  refusedPlacements: Map<string, string>;
  /** keys that may read but not create (a scoped key: every create is 403) */
  readOnlyKeys: Set<string>;
  /** USD/h pods later created on a GPU type bill above their list price (`cost`) */
  markups: Map<string, number>;
  /** rows every GPU list also holds that anex cannot read as a GPU type (runpod audit #14) */
  oddGpuRows: unknown[];
  balance: number;
  timings: RunPodTimings;
  /** GET /v2/pods page size; undefined: one page and no `pagination` field (the documented shape). */
  podsPageSize: number | undefined;
  rng: Rng;
  now: () => number;
  /** registry credentials by id (lib/sim/runpod/registries.ts) */
  registries: Map<string, SimRegistryCredential>;
  /**
   * What pod `id`'s container printed (lib/sim/machines runs it), for GET /v2/pods/{id}/logs.
   * Set once by the machine runner and absent from the fresh state, so a reset keeps it.
   */
  containerLog?: (id: string) => string | undefined;
  /** the open `GET /v2/pods/{id}/logs` streams (logs.ts); a reset's new set leaves the old ones to end */
  logStreams: Set<object>;
}

export const CAPACITY_DETAIL =
  'There are no longer any instances available with the requested specifications. Please refresh and try again.';
/** The second capacity wording clients meet (runpod audit #5, GraphQL's, kept on v2: the stricter reading). */
export const NO_CUDA_HOST_DETAIL =
  'No compatible CUDA host is available for the requested GPU type and CUDA versions.';
/** `ForbiddenError` in the v2 spec: a valid key without the scope for the action. */
export const SCOPE_DETAIL =
  'The bearer token is valid, but it does not grant access to the requested resource or action.';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** RFC 9457 problem+json, RunPod v2's error shape. */
export function problem(status: number, detail: string, errors?: string[]): SimResponse {
  return {
    status,
    contentType: 'application/problem+json',
    body: { title: TITLES[status] ?? 'Error', status, detail, ...(errors ? { errors } : {}) },
  };
}

export function runPodRoutes(state: RunPodState): SimRoute[] {
  return [
    {
      name: 'gpus',
      method: 'GET',
      pattern: /^\/v2\/catalog\/gpus$/,
      auth: true,
      run: (r) => listGpus(state, r),
    },
    {
      name: 'datacenters',
      method: 'GET',
      pattern: /^\/v2\/catalog\/datacenters$/,
      auth: true,
      run: (r) => listDataCenters(state, r),
    },
    { name: 'create', method: 'POST', pattern: /^\/v2\/pods$/, auth: true, run: (r) => createPod(state, r) },
    { name: 'list', method: 'GET', pattern: /^\/v2\/pods$/, auth: true, run: (r) => listPods(state, r) },
    {
      name: 'get',
      method: 'GET',
      pattern: /^\/v2\/pods\/([^/]+)$/,
      auth: true,
      run: (_r, p) => getPod(state, p[0]),
    },
    {
      name: 'logs',
      method: 'GET',
      pattern: /^\/v2\/pods\/([^/]+)\/logs$/,
      auth: true,
      run: (r, p) =>
        podLogs(r, {
          pod: () => livePod(state, p[0]),
          now: state.now,
          timings: state.timings,
          containerLog: state.containerLog,
          open: state.logStreams,
        }),
    },
    {
      name: 'delete',
      method: 'DELETE',
      pattern: /^\/v2\/pods\/([^/]+)$/,
      auth: true,
      run: (_r, p) => deletePod(state, p[0]),
    },
    ...registryRoutes(state),
  ];
}

function listParam(query: URLSearchParams, name: string): string[] | undefined {
  const raw = query.get(name);
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

function listGpus(state: RunPodState, request: SimRequest): SimResponse {
  const q = request.query;
  const cloud = q.get('cloud') as Cloud | null;
  if (cloud && cloud !== 'SECURE' && cloud !== 'COMMUNITY') {
    return problem(422, 'Request validation failed.', [
      '$.cloud: value must be one of "SECURE", "COMMUNITY"',
    ]);
  }
  const count = Number(q.get('count') ?? 1);
  if (!Number.isInteger(count) || count < 1)
    return problem(422, 'Request validation failed.', ['$.count: must be >= 1']);
  const withAvailability = (listParam(q, 'include') ?? []).includes('AVAILABILITY');
  const minCuda = q.get('minCudaVersion');
  const countries = listParam(q, 'countryCodes');
  const gpus = RUNPOD_GPU_TYPES.filter(
    (t) => !minCuda || t.cudaVersions.some((v) => versionGte(v, minCuda)),
  ).map((t) => renderGpu(state, t, { cloud, count, withAvailability, countries }));
  return { status: 200, body: { gpus: [...gpus, ...state.oddGpuRows] } };
}

function renderGpu(
  state: RunPodState,
  type: SimGpuType,
  scope: { cloud: Cloud | null; count: number; withAvailability: boolean; countries: string[] | undefined },
): Record<string, unknown> {
  const clouds: Cloud[] = scope.cloud ? [scope.cloud] : ['SECURE', 'COMMUNITY'];
  const places = RUNPOD_DATA_CENTERS.filter((dc) => !scope.countries || scope.countries.includes(dc.country));
  const dataCenters = places
    .map((dc) => {
      const free = Math.max(...clouds.map((c) => state.stock.get(stockKey(type.id, dc.id, c)) ?? 0));
      return { id: dc.id, name: dc.name, availability: availabilityOf(free, scope.count) };
    })
    .filter((dc) => dc.availability !== 'NONE');
  const best = dataCenters.reduce((a, dc) => (rank(dc.availability) > rank(a) ? dc.availability : a), 'NONE');
  return {
    id: type.id,
    name: type.name,
    pool: type.pool,
    manufacturer: type.manufacturer,
    memory: type.memory,
    secure: type.maxCount.secure > 0,
    community: type.maxCount.community > 0,
    price: { secure: type.price.secure, community: type.price.community },
    maxCount: { secure: type.maxCount.secure, community: type.maxCount.community },
    ...(scope.withAvailability
      ? {
          availability: best,
          dataCenters,
          cudaVersions: type.cudaVersions.map((version) => ({ version, available: dataCenters.length > 0 })),
        }
      : {}),
  };
}

function rank(level: string): number {
  return ['NONE', 'LOW', 'MEDIUM', 'HIGH'].indexOf(level);
}

function versionGte(a: string, b: string): boolean {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am > bm || (am === bm && an >= bn);
}

function listDataCenters(state: RunPodState, request: SimRequest): SimResponse {
  const regions = listParam(request.query, 'regions');
  const withGpus = (listParam(request.query, 'include') ?? []).includes('GPU_AVAILABILITY');
  const dataCenters = RUNPOD_DATA_CENTERS.filter((dc) => !regions || regions.includes(dc.region)).map(
    (dc) => ({
      id: dc.id,
      name: dc.name,
      region: dc.region,
      globalNetwork: false,
      networkVolumeTypes: ['STANDARD'],
      compliance: dc.compliance,
      ...(withGpus
        ? {
            gpuAvailability: RUNPOD_GPU_TYPES.map((t) => ({
              id: t.id,
              name: t.name,
              availability: availabilityOf(
                Math.max(
                  state.stock.get(stockKey(t.id, dc.id, 'SECURE')) ?? 0,
                  state.stock.get(stockKey(t.id, dc.id, 'COMMUNITY')) ?? 0,
                ),
                1,
              ),
            })),
          }
        : {}),
    }),
  );
  return { status: 200, body: { dataCenters } };
}

/**
 * The host CUDA the scheduler places a pod on: the oldest version of the type that the
 * request's `gpu.minCudaVersion` / `allowedCudaVersions` accept — without them, the oldest of
 * all (the stricter reading of runpod audit #3: nothing promises a recent driver unless asked).
 * null for a type without CUDA (AMD); undefined when no host of the type qualifies.
 */
function hostCuda(
  versions: readonly string[],
  gpu: Record<string, unknown> | undefined,
): string | null | undefined {
  if (versions.length === 0) return null;
  const min = typeof gpu?.minCudaVersion === 'string' ? gpu.minCudaVersion : undefined;
  const allowed = Array.isArray(gpu?.allowedCudaVersions) ? (gpu.allowedCudaVersions as string[]) : undefined;
  const rank = (v: string) =>
    v
      .split('.')
      .map(Number)
      .reduce((major, minor) => major * 1000 + minor);
  return versions.find(
    (v) => (min === undefined || rank(v) >= rank(min)) && (allowed === undefined || allowed.includes(v)),
  );
}

/** What is wrong with a create before any placement: its size, JSON, contract, or a credential it names. */
function createRequestProblem(state: RunPodState, request: SimRequest): SimResponse | undefined {
  if (request.bodyBytes > CREATE_POD_MAX_BYTES) {
    return problem(413, `request body is ${request.bodyBytes} bytes; the limit is ${CREATE_POD_MAX_BYTES}`);
  }
  if (request.body === INVALID_JSON) return problem(400, 'request body is not valid JSON');
  const errors = createPodErrors(request.body);
  if (errors.length > 0) return problem(422, 'Request validation failed.', errors);
  const { registry } = request.body as { registry?: unknown };
  // POST /v2/pods lists 404 NotFoundError ("The requested resource was not found or is not
  // accessible to the caller"): the resources a body names are a template, a network volume
  // and the registry credential; an unknown one is that 404 (the stricter reading: refused).
  if (typeof registry === 'string' && !state.registries.has(registry))
    return problem(404, `registry credential ${registry} not found`);
  return undefined;
}

function createPod(state: RunPodState, request: SimRequest): SimResponse {
  const refused = createRequestProblem(state, request);
  if (refused !== undefined) return refused;
  const body = request.body as Record<string, unknown>;
  const gpu = (body.gpu ?? { id: 'NVIDIA GeForce RTX 4090' }) as { id: string; count?: number };
  const key = bearerToken(request);
  if (key !== undefined && state.readOnlyKeys.has(key)) return problem(403, SCOPE_DETAIL);
  const type = RUNPOD_GPU_TYPES.find((t) => t.id === gpu.id);
  // Live v2 answers an unknown GPU id with 422 (runpod audit #5, recorded id 70101339221).
  if (!type) return problem(422, `Unknown GPU type: ${gpu.id}`);
  if (state.forbiddenPools.has(type.id)) {
    return problem(403, `pool not accessible: this API key may not create pods on GPU type "${type.id}"`);
  }
  if (state.balance <= 0)
    return problem(402, 'Your account balance is too low to create this pod. Add funds and try again.');
  const cloud = (body.cloud ?? 'SECURE') as Cloud;
  const count = gpu.count ?? 1;
  const wanted = (body.dataCenterIds as string[] | undefined) ?? RUNPOD_DATA_CENTERS.map((dc) => dc.id);
  const dc = wanted.find((id) => (state.stock.get(stockKey(type.id, id, cloud)) ?? 0) >= count);
  if (!dc) return problem(400, CAPACITY_DETAIL);
  const refusal = state.refusedPlacements.get(`${type.id}|${dc}`);
  if (refusal !== undefined) return problem(400, refusal);
  // The placement floors per GPU: no host of the type has more than the simulated fleet's
  // vCPUs and RAM per GPU, so a higher floor finds no host (the capacity answer).
  const floors = body.gpu as { minVcpuCountPerGpu?: number; minRamPerGpu?: number } | undefined;
  const host = hostShape(type);
  if ((floors?.minVcpuCountPerGpu ?? 0) > host.vcpuPerGpu || (floors?.minRamPerGpu ?? 0) > host.ramPerGpuGb) {
    return problem(400, CAPACITY_DETAIL);
  }
  const cudaVersion = hostCuda(type.cudaVersions, body.gpu as Record<string, unknown> | undefined);
  if (cudaVersion === undefined) return problem(400, NO_CUDA_HOST_DETAIL);
  state.stock.set(stockKey(type.id, dc, cloud), (state.stock.get(stockKey(type.id, dc, cloud)) ?? 0) - count);
  const pod = newPod(state, body, { type, cloud, count, dc, cudaVersion });
  state.pods.set(pod.id, pod);
  return { status: 201, body: renderPod(pod, state.now(), state.timings) };
}

/** The simulated fleet's hosts of a GPU type: vCPUs and RAM (GB) per GPU, what a pod gets. */
export function hostShape(type: SimGpuType): { vcpuPerGpu: number; ramPerGpuGb: number } {
  const big = type.memory >= 80;
  return { vcpuPerGpu: big ? 16 : 8, ramPerGpuGb: big ? 188 : Math.max(31, type.memory * 2) };
}

function newPod(
  state: RunPodState,
  body: Record<string, unknown>,
  placed: { type: SimGpuType; cloud: Cloud; count: number; dc: string; cudaVersion: string | null },
): PodRecord {
  const image = typeof body.image === 'string' ? body.image : 'runpod/base:latest';
  const simImage = findSimImage(image);
  // An image nobody published is never pulled (stricter than accepting any name), nor a private
  // one without its own login in the pod's registry credential.
  const credential = typeof body.registry === 'string' ? state.registries.get(body.registry) : undefined;
  const login =
    credential === undefined
      ? undefined
      : { username: credential.username, password: credential.password, registry: imageRegistry(image) };
  const planned = state.plans.planFor(image, placed.type.id);
  const pullable = simImage !== undefined && pullAllowed(simImage, login);
  const plan = !pullable && planned === 'normal' ? 'image-pull-error' : planned;
  const perGpu = placed.cloud === 'SECURE' ? placed.type.price.secure : placed.type.price.community;
  const id = Array.from(
    { length: 14 },
    () => 'abcdefghijklmnopqrstuvwxyz0123456789'[state.rng.int(0, 35)],
  ).join('');
  return {
    id,
    name: body.name as string,
    image,
    args: typeof body.args === 'string' ? body.args : '',
    container: simImage === undefined ? undefined : runPodContainerStart(simImage, body),
    disk: typeof body.disk === 'number' ? body.disk : 50,
    env: (body.env ?? {}) as Record<string, string>,
    ports: (body.ports ?? []) as string[],
    gpuId: placed.type.id,
    gpuCount: placed.count,
    vcpuCount: hostShape(placed.type).vcpuPerGpu * placed.count,
    ramGb: hostShape(placed.type).ramPerGpuGb * placed.count,
    cloud: placed.cloud,
    dataCenterId: placed.dc,
    cudaVersion: placed.cudaVersion,
    cost: Math.round((perGpu * placed.count + (state.markups.get(placed.type.id) ?? 0)) * 1000) / 1000,
    createdAt: state.now(),
    terminated: false,
    plan,
    publicIp: `213.173.${state.rng.int(0, 255)}.${state.rng.int(1, 254)}`,
    ...(typeof body.registry === 'string' ? { registry: body.registry } : {}),
  };
}

/**
 * What RunPod's runtime starts: `entrypoint` replaces the image ENTRYPOINT (and, as with
 * `docker run --entrypoint`, its CMD), `cmd` replaces CMD (runpod audit #1, docs at 4962c60).
 * The older `args` string "is treated as CMD and split into arguments" with undocumented
 * rules (runpod audit #2): split on white space, no quote handling — the stricter reading, so
 * a shell-quoted script does not survive it.
 */
function runPodContainerStart(image: SimImage, body: Record<string, unknown>): ContainerStart {
  const env = (body.env ?? {}) as Record<string, string>;
  const entrypoint = body.entrypoint as string[] | undefined;
  const cmd =
    (body.cmd as string[] | undefined) ??
    (typeof body.args === 'string' && body.args.trim() !== '' ? body.args.trim().split(/\s+/) : undefined);
  return startContainer(image, {
    ...(entrypoint === undefined ? {} : { entrypoint }),
    ...(cmd === undefined ? {} : { cmd }),
    env,
  });
}

function livePod(state: RunPodState, id: string | undefined): PodRecord | undefined {
  const pod = id === undefined ? undefined : state.pods.get(id);
  return pod && !pod.terminated ? pod : undefined;
}

function getPod(state: RunPodState, id: string | undefined): SimResponse {
  const pod = livePod(state, id);
  if (!pod) return problem(404, 'pod not found');
  return { status: 200, body: renderPod(pod, state.now(), state.timings) };
}

function deletePod(state: RunPodState, id: string | undefined): SimResponse {
  const pod = livePod(state, id);
  if (!pod) return problem(404, 'pod not found');
  pod.terminated = true;
  const key = stockKey(pod.gpuId, pod.dataCenterId, pod.cloud);
  state.stock.set(key, (state.stock.get(key) ?? 0) + pod.gpuCount);
  return { status: 204 };
}

/**
 * `GET /v2/pods`. The docs spec has no paging; SkyPilot follows `pagination.nextCursor` /
 * `hasNextPage` with `?cursor=` (providers.md §3.8), so with a page size set the simulator
 * pages that way to prove the client follows cursors.
 */
function listPods(state: RunPodState, request: SimRequest): SimResponse {
  const now = state.now();
  const all = [...state.pods.values()]
    .filter((p) => !p.terminated)
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  const size = state.podsPageSize;
  if (size === undefined)
    return { status: 200, body: { pods: all.map((p) => renderPod(p, now, state.timings)) } };
  const cursor = request.query.get('cursor');
  const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0) return problem(400, 'invalid cursor');
  const page = all.slice(start, start + size);
  const hasNextPage = start + size < all.length;
  return {
    status: 200,
    body: {
      pods: page.map((p) => renderPod(p, now, state.timings)),
      pagination: {
        hasNextPage,
        nextCursor: hasNextPage ? Buffer.from(String(start + size)).toString('base64url') : null,
      },
    },
  };
}
