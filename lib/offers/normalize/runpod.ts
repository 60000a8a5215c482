import { z } from 'zod';
import { AnexError } from '../../errors.ts';
import { gpuKey } from '../gpu-names.ts';
import { gpuSpec } from '../gpu-specs.ts';
import { type Offer, type Region, RUNPOD_CLOUD_TYPES, type RunPodCloudType } from '../offer.ts';
import { regionOfCountry } from '../regions.ts';

/**
 * RunPod REST v2 catalog → Offer[] (providers.md §3.5, §3.14; openapi GpuType, DataCenter).
 * RunPod has no machines before placement, so an offer is GPU type × cloud tier × data
 * center × GPU count (1..maxCount of the tier); price = per-GPU price of the tier × count.
 * Units converted here: memory GB → MB (× 1024); compute capability, bandwidth and TFLOPS
 * come from the spec table (TFLOPS × count), since RunPod reports none of them.
 */

const availability = z.enum(['NONE', 'LOW', 'MEDIUM', 'HIGH']);

/** `GpuType` of `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD`. */
export const runPodGpuTypeSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    manufacturer: z.string().nullish(),
    memory: z.number().nonnegative(),
    secure: z.boolean(),
    community: z.boolean(),
    price: z.object({ secure: z.number().nullish(), community: z.number().nullish() }).loose(),
    maxCount: z.object({ secure: z.number().int().nullish(), community: z.number().int().nullish() }).loose(),
    availability: availability.nullish(),
    dataCenters: z
      .array(z.object({ id: z.string().min(1), name: z.string(), availability }).loose())
      .nullish(),
    cudaVersions: z.array(z.object({ version: z.string(), available: z.boolean() }).loose()).nullish(),
  })
  .loose();
export type RunPodGpuType = z.infer<typeof runPodGpuTypeSchema>;
export const runPodGpuListSchema = z.object({ gpus: z.array(runPodGpuTypeSchema) }).loose();
/** The list read row by row: one row anex cannot read (the `unknown` sentinel, a new enum value) is skipped, not the catalog. */
const runPodGpuRowsSchema = z.object({ gpus: z.array(z.unknown()) }).loose();

/** `DataCenter` of `GET /v2/catalog/datacenters`; an unknown region value is kept as a string. */
export const runPodDataCenterSchema = z
  .object({ id: z.string().min(1), name: z.string(), region: z.string() })
  .loose();
export type RunPodDataCenter = z.infer<typeof runPodDataCenterSchema>;
export const runPodDataCenterListSchema = z.object({ dataCenters: z.array(runPodDataCenterSchema) }).loose();

/**
 * `DataCenterRegion` → anex region. MIDDLE_EAST → asia-pacific, because the seed has no
 * Middle East and UN M49 puts it in Western Asia (the same rule as Vast's countries);
 * ANTARCTICA and UNKNOWN match no region filter.
 */
export const RUNPOD_REGIONS: Readonly<Record<string, Region | undefined>> = {
  NORTH_AMERICA: 'north-america',
  SOUTH_AMERICA: 'south-america',
  EUROPE: 'europe',
  ASIA: 'asia-pacific',
  MIDDLE_EAST: 'asia-pacific',
  AFRICA: 'africa',
  OCEANIA: 'oceania',
  ANTARCTICA: undefined,
  UNKNOWN: undefined,
};

const CONTINENT_PREFIXES = new Set(['EU', 'EUR', 'AP', 'OC', 'SEA', 'SA', 'AF', 'ME', 'NA']);

/**
 * The country of a data-center id: "US-TX-3" → US, "CA-MTL-1" → CA, "EU-RO-1" → RO,
 * "EUR-IS-1" → IS, "SEA-SG-1" → SG. Inferred from RunPod's naming (providers.md §4), used
 * for `countryCode` and as the region when the data-center list does not name the id.
 */
export function countryOfDataCenter(id: string): string | undefined {
  const [first = '', second = ''] = id.toUpperCase().split('-');
  if (/^[A-Z]{2}$/.test(first) && !CONTINENT_PREFIXES.has(first)) return first;
  return /^[A-Z]{2}$/.test(second) ? second : undefined;
}

/** Highest CUDA version with free capacity ("major.minor", compared as numbers). */
export function highestAvailableCuda(versions: RunPodGpuType['cudaVersions']): string | undefined {
  let best: [number, number] | undefined;
  for (const v of versions ?? []) {
    const match = /^(\d+)\.(\d+)$/.exec(v.version);
    if (!v.available || match === null) continue;
    const parts: [number, number] = [Number(match[1]), Number(match[2])];
    if (best === undefined || parts[0] > best[0] || (parts[0] === best[0] && parts[1] > best[1]))
      best = parts;
  }
  return best === undefined ? undefined : `${best[0]}.${best[1]}`;
}

/** Price of `count` GPUs, rounded to 1e-6 USD so 0.34 × 3 is 1.02, not 1.0200000000000002. */
function priceOf(perGpu: number, count: number): number {
  return Math.round(perGpu * count * 1e6) / 1e6;
}

interface Place {
  dataCenterId: string;
  location: string;
  stock: 'LOW' | 'MEDIUM' | 'HIGH';
  region: Region | undefined;
  countryCode: string | undefined;
}

function buildOffer(gpu: RunPodGpuType, cloud: RunPodCloudType, place: Place, count: number): Offer {
  const perGpu = cloud === 'SECURE' ? (gpu.price.secure ?? 0) : (gpu.price.community ?? 0);
  const vramMb = gpu.memory * 1024;
  const offer: Offer = {
    provider: 'runpod',
    offerId: `${gpu.id}|${cloud}|${place.dataCenterId}|${count}`,
    gpuName: gpu.name,
    gpuKey: gpuKey(gpu.name),
    gpuTypeId: gpu.id,
    gpuCount: count,
    vramMb,
    vramTotalMb: vramMb * count,
    pricePerHour: priceOf(perGpu, count),
    location: place.location,
    datacenter: cloud === 'SECURE',
    cloudType: cloud,
    dataCenterId: place.dataCenterId,
    stock: place.stock,
  };
  const spec = gpuSpec(gpu.name) ?? gpuSpec(gpu.id);
  if (spec?.computeCap !== undefined) offer.computeCap = spec.computeCap;
  if (spec !== undefined) offer.vramBandwidthGBps = spec.memoryBandwidthGBps;
  if (spec !== undefined) offer.tflops = Math.round(spec.tflops * count * 1000) / 1000;
  const cuda = highestAvailableCuda(gpu.cudaVersions);
  if (cuda !== undefined) offer.cudaMax = cuda;
  if (place.region !== undefined) offer.region = place.region;
  if (place.countryCode !== undefined) offer.countryCode = place.countryCode;
  return offer;
}

/** The tiers a GPU type is offered in, within the response's scope. */
function tiersOf(gpu: RunPodGpuType, scope: RunPodCloudType | undefined): RunPodCloudType[] {
  return RUNPOD_CLOUD_TYPES.filter((cloud) => {
    if (scope !== undefined && cloud !== scope) return false;
    const listed = cloud === 'SECURE' ? gpu.secure : gpu.community;
    const price = cloud === 'SECURE' ? gpu.price.secure : gpu.price.community;
    const max = cloud === 'SECURE' ? gpu.maxCount.secure : gpu.maxCount.community;
    return listed && price != null && price > 0 && max != null && max > 0;
  });
}

export interface RunPodCatalog {
  /** `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD` body */
  gpus: unknown;
  /** `GET /v2/catalog/datacenters` body; without it regions come from the data-center ids */
  dataCenters?: unknown;
  /**
   * The `cloud=` the GPU list was requested with. Per-data-center availability is scoped by
   * that parameter, so a client that wants exact tiers asks once per tier and passes it;
   * unscoped, a data center listed for a GPU type is taken to offer every tier it is sold in.
   */
  cloud?: RunPodCloudType;
  /**
   * The `count=` the GPU list was requested with: availability is for that many GPUs ("GPU
   * count for availability and lowest-price calculations"), so offers are made for that count
   * alone — `maxCount` is "a ceiling, not a stock level" (runpod audit #4). Unset (a saved
   * catalog file): every count up to the ceiling.
   */
  count?: number;
  /**
   * Told about each GPU row that is not a GPU type anex can read (its id when it has one, and
   * what is wrong — never values); the row is skipped. @default rows are skipped silently
   */
  onOddRow?: (message: string) => void;
}

function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const shown = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new AnexError(`${what}: ${shown.join('; ')}`, { kind: 'bad-response' });
}

/** The GPU rows anex can read; each other row is reported and skipped (runpod audit #14). */
function readRows(catalog: RunPodCatalog, source: string): RunPodGpuType[] {
  const { gpus } = parseOrThrow(runPodGpuRowsSchema, catalog.gpus, `${source} is not a RunPod GPU list`);
  const rows: RunPodGpuType[] = [];
  for (const row of gpus) {
    const parsed = runPodGpuTypeSchema.safeParse(row);
    if (parsed.success) {
      rows.push(parsed.data);
      continue;
    }
    const id = (row as { id?: unknown } | null)?.id;
    const problem = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`)
      .join('; ');
    catalog.onOddRow?.(
      `${source}: skipped GPU type ${typeof id === 'string' ? JSON.stringify(id) : '(no id)'}: ${problem}`,
    );
  }
  return rows;
}

/** The count the catalog was read for (if the tier's ceiling allows it), else every count up to the ceiling. */
function countsOffered(read: number | undefined, max: number): number[] {
  if (read !== undefined) return read <= max ? [read] : [];
  return Array.from({ length: Math.max(0, max) }, (_, i) => i + 1);
}

function placesOf(gpu: RunPodGpuType, dataCenters: ReadonlyMap<string, RunPodDataCenter>): Place[] {
  const places: Place[] = [];
  for (const dc of gpu.dataCenters ?? []) {
    if (dc.availability === 'NONE') continue;
    const known = dataCenters.get(dc.id);
    const countryCode = countryOfDataCenter(dc.id);
    const region = known !== undefined ? RUNPOD_REGIONS[known.region] : regionOfCountry(countryCode);
    places.push({
      dataCenterId: dc.id,
      location: known?.name ?? dc.name,
      stock: dc.availability,
      region,
      countryCode,
    });
  }
  return places;
}

/** The catalog → every (GPU type × tier × data center × count) offer with stock. */
export function normalizeRunPodCatalog(catalog: RunPodCatalog, source = 'RunPod catalog'): Offer[] {
  const gpus = readRows(catalog, source);
  const dcList =
    catalog.dataCenters === undefined
      ? []
      : parseOrThrow(
          runPodDataCenterListSchema,
          catalog.dataCenters,
          `${source} is not a RunPod data-center list`,
        ).dataCenters;
  const dataCenters = new Map(dcList.map((dc) => [dc.id, dc]));
  const offers: Offer[] = [];
  for (const gpu of gpus) {
    const places = placesOf(gpu, dataCenters);
    for (const cloud of tiersOf(gpu, catalog.cloud)) {
      const max = (cloud === 'SECURE' ? gpu.maxCount.secure : gpu.maxCount.community) ?? 0;
      const counts = countsOffered(catalog.count, max);
      for (const place of places) {
        for (const count of counts) offers.push(buildOffer(gpu, cloud, place, count));
      }
    }
  }
  return offers;
}
