import { KNOWN_GPU_NAMES, providersOfGpu } from '../offers/gpu-catalog.ts';
import { REGIONS, type Region, RUNPOD_CLOUD_TYPES, type RunPodCloudType } from '../offers/offer.ts';
import { BOOLEAN_KEYS, LIST_KEYS, RELIABILITY_MIN_KEY } from './keys.ts';
import type { Requirements } from './requirements.ts';
import { suggestGpuName, suggestValue } from './suggest.ts';
import { parseBoolean, parseComputeCap, parseList } from './values.ts';

type Annotations = Readonly<Record<string, string>>;
type SharedLists = Pick<Requirements, 'regions' | 'gpuNames' | 'computeCaps'>;

const DATA_CENTER_ID = /^[A-Z0-9]+(?:-[A-Z0-9]+)*$/;

function parseRegions(raw: string, errors: string[]): Region[] | undefined {
  const items = parseList(LIST_KEYS.region, raw, 'europe,north-america', errors);
  if (items === undefined) return undefined;
  const regions: Region[] = [];
  for (const item of items) {
    const region = REGIONS.find((r) => r === item.toLowerCase());
    if (region !== undefined) {
      if (!regions.includes(region)) regions.push(region);
      continue;
    }
    const hint = suggestValue(item, REGIONS);
    errors.push(
      `${LIST_KEYS.region}: ${JSON.stringify(item)} is not a region${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; expected one of ${REGIONS.join(', ')}`,
    );
  }
  return regions.length === items.length ? regions : undefined;
}

function parseComputeCaps(raw: string, errors: string[]): string[] | undefined {
  const items = parseList(LIST_KEYS.computeCap, raw, '8.6,8.9', errors);
  if (items === undefined) return undefined;
  const caps = items.map((item) => parseComputeCap(LIST_KEYS.computeCap, item, errors));
  return caps.every((c) => c !== undefined) ? [...new Set(caps)] : undefined;
}

/**
 * GPU names as written, each known to at least one provider (lib/offers/gpu-catalog.ts): a
 * name none lists is refused with the closest known one, never searched without a GPU filter.
 */
function parseGpuNames(raw: string, errors: string[]): string[] | undefined {
  const items = parseList(LIST_KEYS.gpuNames, raw, 'RTX 4090,RTX 3090', errors);
  if (items === undefined) return undefined;
  const unknown = items.filter((item) => providersOfGpu(item).length === 0);
  for (const item of unknown) {
    const hint = suggestGpuName(item, KNOWN_GPU_NAMES);
    errors.push(
      `${LIST_KEYS.gpuNames}: ${JSON.stringify(item)} is not a GPU model any provider lists${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; expected a model name such as "RTX 4090" or "H100 SXM" (the list: docs/annotations.md)`,
    );
  }
  return unknown.length === 0 ? items : undefined;
}

/** region, gpu-names, compute-cap: OR within each list. */
export function parseSharedLists(annotations: Annotations, errors: string[]): SharedLists {
  const out: SharedLists = {};
  const region = annotations[LIST_KEYS.region];
  const gpuNames = annotations[LIST_KEYS.gpuNames];
  const computeCap = annotations[LIST_KEYS.computeCap];
  const regions = region === undefined ? undefined : parseRegions(region, errors);
  if (regions !== undefined) out.regions = regions;
  const names = gpuNames === undefined ? undefined : parseGpuNames(gpuNames, errors);
  if (names !== undefined) out.gpuNames = names;
  const caps = computeCap === undefined ? undefined : parseComputeCaps(computeCap, errors);
  if (caps !== undefined) out.computeCaps = caps;
  return out;
}

function parseCloudTypes(raw: string, errors: string[]): RunPodCloudType[] | undefined {
  const items = parseList(LIST_KEYS.cloudType, raw, 'SECURE', errors);
  if (items === undefined) return undefined;
  const types: RunPodCloudType[] = [];
  for (const item of items) {
    const type = RUNPOD_CLOUD_TYPES.find((t) => t === item.toUpperCase());
    if (type === undefined) {
      errors.push(
        `${LIST_KEYS.cloudType}: ${JSON.stringify(item)} is not a cloud type; expected SECURE or COMMUNITY (or both, comma-separated)`,
      );
    } else if (!types.includes(type)) types.push(type);
  }
  return types.length > 0 && items.every((i) => RUNPOD_CLOUD_TYPES.some((t) => t === i.toUpperCase()))
    ? types
    : undefined;
}

function parseDataCenterIds(raw: string, errors: string[]): string[] | undefined {
  const items = parseList(LIST_KEYS.dataCenterIds, raw, 'EU-RO-1,US-CA-2', errors);
  if (items === undefined) return undefined;
  const ids = items.map((i) => i.toUpperCase());
  const bad = items.filter((_, n) => !DATA_CENTER_ID.test(ids[n] ?? ''));
  for (const item of bad) {
    errors.push(
      `${LIST_KEYS.dataCenterIds}: ${JSON.stringify(item)} is not a data-center id (e.g. "EU-RO-1")`,
    );
  }
  return bad.length === 0 ? [...new Set(ids)] : undefined;
}

const RELIABILITY = /^(?:0(?:\.\d+)?|1(?:\.0*)?|\.\d+)$/;

/** A decimal from 0 to 1 ("0.98"): Vast's `reliability` score. */
function readReliability(annotations: Annotations, errors: string[]): number | undefined {
  const raw = annotations[RELIABILITY_MIN_KEY];
  if (raw === undefined) return undefined;
  if (RELIABILITY.test(raw.trim())) return Number(raw.trim());
  errors.push(
    `${RELIABILITY_MIN_KEY}: ${JSON.stringify(raw)} is not a reliability score; expected a decimal from 0 to 1 (e.g. "0.98")`,
  );
  return undefined;
}

function readBoolean(annotations: Annotations, key: string, errors: string[]): boolean | undefined {
  const raw = annotations[key];
  return raw === undefined ? undefined : parseBoolean(key, raw, errors);
}

/** The provider-prefixed keys (the caller already dropped the other provider's). */
export function parseProviderKeys(
  annotations: Annotations,
  errors: string[],
): Pick<Requirements, 'vastai' | 'runpod'> {
  const verifiedOnly = readBoolean(annotations, BOOLEAN_KEYS.verifiedOnly, errors);
  const datacenterOnly = readBoolean(annotations, BOOLEAN_KEYS.datacenterOnly, errors);
  const reliabilityMin = readReliability(annotations, errors);
  const keepPriority = readBoolean(annotations, BOOLEAN_KEYS.keepGpuTypePriority, errors);
  const cloud = annotations[LIST_KEYS.cloudType];
  const dcs = annotations[LIST_KEYS.dataCenterIds];
  const cloudTypes = cloud === undefined ? undefined : parseCloudTypes(cloud, errors);
  const dataCenterIds = dcs === undefined ? undefined : parseDataCenterIds(dcs, errors);
  return {
    vastai: {
      verifiedOnly: verifiedOnly ?? true,
      ...(datacenterOnly === undefined ? {} : { datacenterOnly }),
      ...(reliabilityMin === undefined ? {} : { reliabilityMin }),
    },
    runpod: {
      keepGpuTypePriority: keepPriority ?? false,
      ...(cloudTypes === undefined ? {} : { cloudTypes }),
      ...(dataCenterIds === undefined ? {} : { dataCenterIds }),
    },
  };
}
