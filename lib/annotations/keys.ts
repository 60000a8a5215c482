import type { ProviderName } from '../offers/offer.ts';

/**
 * Every annotation anex understands (seed-annotations.md), with the words error messages
 * use for its accepted form. The admission webhook and the docs read this list too.
 */
export const SHARED_PREFIX = 'anex.sh/';
export const PROVIDER_PREFIXES: Readonly<Record<ProviderName, string>> = {
  vastai: 'vastai.anex.sh/',
  runpod: 'runpod.anex.sh/',
};

/** Numeric fields of `Requirements` an annotation family fills. */
export type NumericTarget =
  | 'gpuCount'
  | 'vramMb'
  | 'vramTotalMb'
  | 'vramBandwidthGBps'
  | 'tflops'
  | 'cpuCores'
  | 'ramMb'
  | 'pricePerHour'
  | 'uploadMbps'
  | 'downloadMbps'
  | 'diskGb'
  | 'diskBwMBps'
  | 'dlperf';

/** A numeric family: `<base>` exact, `<base>-min`, `<base>-max`. */
export interface NumericField {
  /** full key of the exact form, e.g. "anex.sh/vram" */
  key: string;
  target: NumericTarget;
  /** what a valid value is, completing "is not …": `a number of megabytes (e.g. "20480")` */
  form: string;
  /** whole numbers only */
  integer: boolean;
  /** smallest accepted value (0 unless said otherwise) */
  least: number;
  /** only for pods of this provider (others: ignored with a warning) */
  provider?: ProviderName;
}

const numeric = (
  base: string,
  target: NumericTarget,
  form: string,
  extra: Partial<Pick<NumericField, 'integer' | 'least' | 'provider'>> = {},
): NumericField => {
  const prefix = extra.provider === undefined ? SHARED_PREFIX : PROVIDER_PREFIXES[extra.provider];
  const field: NumericField = {
    key: prefix + base,
    target,
    form,
    integer: extra.integer ?? false,
    least: extra.least ?? 0,
  };
  if (extra.provider !== undefined) field.provider = extra.provider;
  return field;
};

export const NUMERIC_FIELDS: readonly NumericField[] = [
  numeric('gpu-count', 'gpuCount', 'a whole number of GPUs (e.g. "2")', { integer: true, least: 1 }),
  numeric('vram', 'vramMb', 'a number of megabytes (e.g. "20480")'),
  numeric('vram-total', 'vramTotalMb', 'a number of megabytes (e.g. "49152")'),
  numeric('vram-bandwidth', 'vramBandwidthGBps', 'a memory bandwidth in GB/s (e.g. "900")'),
  numeric('tflops', 'tflops', 'a number of TFLOPS (e.g. "80")'),
  numeric('cpu', 'cpuCores', 'a number of CPU cores (e.g. "8")'),
  numeric('ram', 'ramMb', 'a number of megabytes (e.g. "32768")'),
  numeric('price', 'pricePerHour', 'a price in USD per hour for the whole machine (e.g. "1.50")'),
  numeric('upload-speed', 'uploadMbps', 'a speed in Mbps (e.g. "500")'),
  numeric('download-speed', 'downloadMbps', 'a speed in Mbps (e.g. "1000")'),
  numeric('disk-space-gb', 'diskGb', 'a number of gigabytes (e.g. "100")'),
  numeric('disk-bw', 'diskBwMBps', 'a disk bandwidth in MB/s (e.g. "2000")'),
  numeric('dlperf', 'dlperf', 'a DLPerf score (e.g. "40")', { provider: 'vastai' }),
];

export const CUDA_KEY = `${SHARED_PREFIX}cuda`;
export const LIST_KEYS = {
  region: `${SHARED_PREFIX}region`,
  gpuNames: `${SHARED_PREFIX}gpu-names`,
  computeCap: `${SHARED_PREFIX}compute-cap`,
  cloudType: `${PROVIDER_PREFIXES.runpod}cloud-type`,
  dataCenterIds: `${PROVIDER_PREFIXES.runpod}datacenter-ids`,
} as const;
/** `vastai.anex.sh/reliability-min`: a floor only (an exact reliability means nothing). */
export const RELIABILITY_MIN_KEY = `${PROVIDER_PREFIXES.vastai}reliability-min`;
export const BOOLEAN_KEYS = {
  verifiedOnly: `${PROVIDER_PREFIXES.vastai}verified-only`,
  datacenterOnly: `${PROVIDER_PREFIXES.vastai}datacenter-only`,
  keepGpuTypePriority: `${PROVIDER_PREFIXES.runpod}keep-gpu-type-priority`,
} as const;

/** The key of a range bound: `rangeKey("anex.sh/vram", "min") === "anex.sh/vram-min"`. */
export function rangeKey(key: string, bound: 'min' | 'max'): string {
  return `${key}-${bound}`;
}

/** The provider a key belongs to, or undefined for a shared `anex.sh/` key. */
export function providerOfKey(key: string): ProviderName | undefined {
  if (key.startsWith(PROVIDER_PREFIXES.vastai)) return 'vastai';
  if (key.startsWith(PROVIDER_PREFIXES.runpod)) return 'runpod';
  return undefined;
}

/** True for keys under one of anex's three prefixes (known or not). */
export function isAnexKey(key: string): boolean {
  return (
    key.startsWith(SHARED_PREFIX) ||
    key.startsWith(PROVIDER_PREFIXES.vastai) ||
    key.startsWith(PROVIDER_PREFIXES.runpod)
  );
}

function allKeys(): string[] {
  const keys: string[] = [LIST_KEYS.region, LIST_KEYS.gpuNames, LIST_KEYS.computeCap];
  for (const field of NUMERIC_FIELDS.filter((f) => f.provider === undefined)) {
    keys.push(field.key, rangeKey(field.key, 'min'), rangeKey(field.key, 'max'));
    if (field.target === 'tflops') keys.push(CUDA_KEY, rangeKey(CUDA_KEY, 'min'), rangeKey(CUDA_KEY, 'max'));
  }
  const dlperf = NUMERIC_FIELDS.find((f) => f.target === 'dlperf')?.key ?? '';
  keys.push(BOOLEAN_KEYS.verifiedOnly, BOOLEAN_KEYS.datacenterOnly, dlperf, rangeKey(dlperf, 'min'));
  keys.push(
    rangeKey(dlperf, 'max'),
    RELIABILITY_MIN_KEY,
    LIST_KEYS.cloudType,
    LIST_KEYS.dataCenterIds,
    BOOLEAN_KEYS.keepGpuTypePriority,
  );
  return keys;
}

/** Every annotation key anex knows, shared ones first (seed order). */
export const KNOWN_ANNOTATION_KEYS: readonly string[] = allKeys();

/**
 * `anex.sh/allow-egress`: what the pod may reach through the cluster gateway (parsed by
 * lib/annotations/allow-egress.ts, enforced per peer by the gateway; ADR 0020). Not a
 * requirement of the machine, so it is known here but kept out of the requirement keys.
 */
export const ALLOW_EGRESS_KEY = `${SHARED_PREFIX}allow-egress`;
const KNOWN = new Set([...KNOWN_ANNOTATION_KEYS, ALLOW_EGRESS_KEY]);

export function isKnownKey(key: string): boolean {
  return KNOWN.has(key);
}

/**
 * Keys anex writes on the pod to report what it did, never read as requirements:
 * `anex.sh/billed-price`, the USD/h the provider bills for the pod's instance.
 */
export const BILLED_PRICE_KEY = 'anex.sh/billed-price';
export const REPORTED_KEYS: ReadonlySet<string> = new Set([BILLED_PRICE_KEY]);
