import { z } from 'zod';
import { AnexError } from '../../errors.ts';
import { gpuKey } from '../gpu-names.ts';
import type { Offer } from '../offer.ts';
import { regionOfCountry } from '../regions.ts';

/**
 * Vast.AI search (`POST /api/v0/bundles/` → `{"offers":[…]}`) → Offer[] (providers.md §2.4,
 * §2.5, §2.15). Vast already reports the seed's units (MB, GB/s, TFLOPS, Mbps, GB, MB/s,
 * USD/h), so conversion is limited to compute capability (860 → "8.6"), CUDA (12.8 →
 * "12.8"), the country code, the booleans, and RAM, which Vast reports for the whole host
 * (the offer gets its share, {@link effectiveRamMb}). The schemas are exported for the provider
 * client, which parses live responses with them.
 */

const num = z.number();
const optionalNumber = num.nullish();

/**
 * One raw offer row. Required: what a filter or a rent cannot do without. Tolerant of
 * unknown fields (Vast adds columns): they are dropped, not refused — zod's default "strip"
 * mode, which parses a 100k-row search about 3x faster than passing them through.
 */
export const vastOfferSchema = z.object({
  id: z.union([z.number().int(), z.string().min(1)]),
  machine_id: z.union([z.number().int(), z.string().min(1)]),
  host_id: z.union([z.number().int(), z.string()]).nullish(),
  num_gpus: z.number().int().nonnegative(),
  gpu_name: z.string(),
  gpu_ram: num,
  gpu_total_ram: optionalNumber,
  gpu_totalram: optionalNumber,
  gpu_mem_bw: optionalNumber,
  total_flops: optionalNumber,
  compute_cap: optionalNumber,
  cuda_max_good: z.union([num, z.string()]).nullish(),
  cpu_cores: optionalNumber,
  cpu_cores_effective: optionalNumber,
  cpu_ram: optionalNumber,
  gpu_frac: optionalNumber,
  reliability: optionalNumber,
  reliability2: optionalNumber,
  disk_space: optionalNumber,
  disk_bw: optionalNumber,
  inet_up: optionalNumber,
  inet_down: optionalNumber,
  dph_total: num,
  dlperf: optionalNumber,
  verification: z.string().nullish(),
  vericode: optionalNumber,
  hosting_type: optionalNumber,
  geolocation: z.string().nullish(),
});
export type VastOfferRow = z.infer<typeof vastOfferSchema>;

export const vastSearchResponseSchema = z.object({ offers: z.array(vastOfferSchema) });
export type VastSearchResponse = z.infer<typeof vastSearchResponseSchema>;

/** The envelope only; rows are checked one by one (faster, and errors name the row). */
const envelopeSchema = z.object({ offers: z.array(z.unknown()) });

/** 860 → "8.6", 1200 → "12.0". */
export function computeCapOf(raw: number): string {
  return `${Math.floor(raw / 100)}.${Math.floor((raw % 100) / 10)}`;
}

/** 12.8 → "12.8", 13 → "13.0", "12.4" → "12.4"; anything else → undefined. */
export function cudaOf(raw: number | string): string | undefined {
  const text = typeof raw === 'number' ? (Number.isInteger(raw) ? `${raw}.0` : String(raw)) : raw.trim();
  if (/^\d+\.\d+$/.test(text)) return text;
  return /^\d+$/.test(text) ? `${text}.0` : undefined;
}

/** "Texas, US" → "US"; "Yutakachō, Shinagawa District, Tokyo, JP" → "JP"; no code → undefined. */
export function countryOfGeolocation(geolocation: string | null | undefined): string | undefined {
  if (geolocation === null || geolocation === undefined) return undefined;
  const last = geolocation.slice(geolocation.lastIndexOf(',') + 1).trim();
  return /^[A-Za-z]{2}$/.test(last) ? last.toUpperCase() : undefined;
}

/**
 * The offer's share of the host, 0 < share ≤ 1. Vast's docs (guides/instances/
 * docker-environment.mdx): "System RAM is allocated similarly to CPU, each instance gets a
 * fraction proportional to its share of attached GPUs" — that share is `gpu_frac` (offer GPUs
 * ÷ machine GPUs). Without it, `cpu_cores_effective / cpu_cores`, as gpuhunt's vastai.py
 * computes memory (the CPU share follows the same rule). Undefined when neither is reported.
 */
function hostShare(row: VastOfferRow): number | undefined {
  const valid = (share: number) => Number.isFinite(share) && share > 0 && share <= 1;
  if (row.gpu_frac != null && valid(row.gpu_frac)) return row.gpu_frac;
  if (row.cpu_cores_effective != null && row.cpu_cores != null && row.cpu_cores > 0) {
    const share = row.cpu_cores_effective / row.cpu_cores;
    if (valid(share)) return share;
  }
  return undefined;
}

/**
 * RAM the instance gets, MB: `cpu_ram` is the **host's** total (vast audit #6; gpuhunt
 * `memory = cpu_ram * cpu_cores_effective / cpu_cores`), so a 1-of-4-GPU slice of a 256 GB
 * host gets about 64 GB. Rounded down, and unknown when no share is reported: the host total
 * would over-promise.
 */
export function effectiveRamMb(row: VastOfferRow): number | undefined {
  const share = hostShare(row);
  return row.cpu_ram == null || share === undefined ? undefined : Math.floor(row.cpu_ram * share);
}

function addMeasurements(offer: Offer, row: VastOfferRow): void {
  if (row.gpu_mem_bw != null) offer.vramBandwidthGBps = row.gpu_mem_bw;
  if (row.total_flops != null) offer.tflops = row.total_flops;
  if (row.compute_cap != null) offer.computeCap = computeCapOf(row.compute_cap);
  const cuda = row.cuda_max_good == null ? undefined : cudaOf(row.cuda_max_good);
  if (cuda !== undefined) offer.cudaMax = cuda;
  if (row.cpu_cores_effective != null) offer.cpuCores = row.cpu_cores_effective;
  const ram = effectiveRamMb(row);
  if (ram !== undefined) offer.ramMb = ram;
  if (row.inet_up != null) offer.uploadMbps = row.inet_up;
  if (row.inet_down != null) offer.downloadMbps = row.inet_down;
  if (row.disk_space != null) offer.diskGb = row.disk_space;
  if (row.disk_bw != null) offer.diskBwMBps = row.disk_bw;
  if (row.dlperf != null) offer.dlperf = row.dlperf;
  const reliability = row.reliability ?? row.reliability2;
  if (reliability != null) offer.reliability = reliability;
}

function addPlaceAndTrust(offer: Offer, row: VastOfferRow): void {
  if (row.host_id != null) offer.hostId = String(row.host_id);
  if (row.geolocation != null) offer.location = row.geolocation;
  const country = countryOfGeolocation(row.geolocation);
  if (country !== undefined) {
    offer.countryCode = country;
    const region = regionOfCountry(country);
    if (region !== undefined) offer.region = region;
  }
  if (row.verification != null) offer.verified = row.verification === 'verified';
  else if (row.vericode != null) offer.verified = row.vericode === 1;
  // hosting_type values above 1 are undocumented (providers.md §8.7): only 1 counts, as in Vast's CLI.
  if (row.hosting_type != null) offer.datacenter = row.hosting_type === 1;
}

/** One validated row → Offer. */
export function normalizeVastOffer(row: VastOfferRow): Offer {
  const total = row.gpu_total_ram ?? row.gpu_totalram ?? row.gpu_ram * row.num_gpus;
  const offer: Offer = {
    provider: 'vastai',
    offerId: String(row.id),
    machineId: String(row.machine_id),
    gpuName: row.gpu_name,
    gpuKey: gpuKey(row.gpu_name),
    gpuCount: row.num_gpus,
    vramMb: row.gpu_ram,
    vramTotalMb: total,
    pricePerHour: row.dph_total,
  };
  addMeasurements(offer, row);
  addPlaceAndTrust(offer, row);
  return offer;
}

function describeIssues(
  error: z.ZodError,
  source: string,
  prefix: readonly (string | number)[] = [],
): string {
  const path = (i: z.core.$ZodIssue) => [...prefix, ...i.path].join('.') || '(root)';
  const shown = error.issues.slice(0, 5).map((i) => `${path(i)}: ${i.message}`);
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : '';
  return `${source} is not a Vast.AI search response: ${shown.join('; ')}${more}`;
}

/**
 * A whole search response → Offer[]. Throws AnexError `bad-response` naming the first
 * offending fields (e.g. `offers.3.gpu_ram: Invalid input: expected number, received undefined`).
 */
export function normalizeVastSearch(response: unknown, source = 'Vast.AI search response'): Offer[] {
  const envelope = envelopeSchema.safeParse(response);
  if (!envelope.success)
    throw new AnexError(describeIssues(envelope.error, source), { kind: 'bad-response' });
  const rows = envelope.data.offers;
  const offers: Offer[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = vastOfferSchema.safeParse(rows[i]);
    if (!row.success) {
      throw new AnexError(describeIssues(row.error, source, ['offers', i]), { kind: 'bad-response' });
    }
    offers[i] = normalizeVastOffer(row.data);
  }
  return offers;
}
