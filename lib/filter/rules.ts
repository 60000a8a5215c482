import type { NumericTarget } from '../annotations/keys.ts';
import { gpuKey } from '../offers/gpu-names.ts';
import type { Offer } from '../offers/offer.ts';
import type { Bounds, FilterContext } from './context.ts';
import { contains, versionKey } from './context.ts';

/**
 * The filter engine: an ordered list of small named rules (STYLE.md, after pepr). Order is
 * the funnel order `explain` reports. AND across rules; a rule that does not apply to the
 * requirements (annotation unset, other provider) is skipped entirely.
 *
 * A rule is split in two so the per-offer path allocates nothing: `test` decides (runs for
 * every offer), `why` words the rejection (runs only when someone asks: explain, near
 * miss). {@link rejection} joins them into the `(offer, ctx) → rejection | undefined` form.
 * An offer that does not report a field never passes a filter on it (lib/offers/offer.ts).
 */
export interface FilterRule {
  /** the annotation family, as shown in the funnel: "vram", "region", "bans", … */
  readonly name: string;
  applies(ctx: FilterContext): boolean;
  test(offer: Offer, ctx: FilterContext): boolean;
  why(offer: Offer, ctx: FilterContext): string;
}

export interface Rejection {
  filter: string;
  reason: string;
}

export function rejection(rule: FilterRule, offer: Offer, ctx: FilterContext): Rejection | undefined {
  return rule.test(offer, ctx) ? undefined : { filter: rule.name, reason: rule.why(offer, ctx) };
}

function within(value: number | undefined, b: Bounds): boolean {
  return value !== undefined && value >= b.lo && value <= b.hi;
}

/** "vram 24564 MB < vram-min 24576 MB", "gpu-count 1 != gpu-count 2", "cpu unknown (…)". */
function numericWhy(name: string, value: number | undefined, b: Bounds, unit: string): string {
  const u = unit === '' ? '' : ` ${unit}`;
  if (value === undefined) return `${name} unknown (the offer does not report it)`;
  if (b.exact) return `${name} ${value}${u} != ${name} ${b.lo}${u}`;
  if (value < b.lo) return `${name} ${value}${u} < ${name}-min ${b.lo}${u}`;
  return `${name} ${value}${u} > ${name}-max ${b.hi}${u}`;
}

/**
 * A numeric rule on `offer[key]` against `ctx[key]`. `test` is written out per field (not
 * a keyed read shared by all) so each hot call site reads one fixed property.
 */
function numericRule(name: string, key: NumericTarget, unit: string, test: FilterRule['test']): FilterRule {
  return {
    name,
    applies: (ctx) => ctx[key].active,
    test,
    why: (offer, ctx) => numericWhy(name, offer[key], ctx[key], unit),
  };
}

const list = (values: Iterable<string>): string => [...values].join(', ');

export const RULES: readonly FilterRule[] = [
  {
    name: 'bans',
    applies: (ctx) => ctx.bans.size > 0,
    test: (offer, ctx) => offer.machineId === undefined || !ctx.bans.has(offer.machineId),
    why: (offer, ctx) =>
      `machine ${offer.machineId} is banned until ${new Date(ctx.bans.get(offer.machineId ?? '') ?? 0).toISOString()}`,
  },
  {
    name: 'region',
    applies: (ctx) => ctx.regions !== undefined,
    test: (offer, ctx) => contains(ctx.regions, offer.region),
    why: (offer, ctx) =>
      offer.region === undefined
        ? `region unknown (location ${JSON.stringify(offer.location ?? '')})`
        : `region ${offer.region} not in ${list(ctx.regions ?? [])}`,
  },
  {
    name: 'gpu-names',
    applies: (ctx) => ctx.gpuKeys !== undefined,
    test: (offer, ctx) => contains(ctx.gpuKeyList, offer.gpuKey ?? gpuKey(offer.gpuName)),
    why: (offer, ctx) =>
      `gpu ${JSON.stringify(offer.gpuName)} not in ${list(ctx.requirements.gpuNames ?? ctx.gpuKeys?.keys() ?? [])}`,
  },
  {
    name: 'compute-cap',
    applies: (ctx) => ctx.computeCaps !== undefined,
    test: (offer, ctx) => contains(ctx.computeCaps, offer.computeCap),
    why: (offer, ctx) =>
      offer.computeCap === undefined
        ? 'compute-cap unknown (the offer does not report it)'
        : `compute-cap ${offer.computeCap} not in ${list(ctx.computeCaps ?? [])}`,
  },
  numericRule('gpu-count', 'gpuCount', '', (o, c) => within(o.gpuCount, c.gpuCount)),
  numericRule('vram', 'vramMb', 'MB', (o, c) => within(o.vramMb, c.vramMb)),
  numericRule('vram-total', 'vramTotalMb', 'MB', (o, c) => within(o.vramTotalMb, c.vramTotalMb)),
  numericRule('vram-bandwidth', 'vramBandwidthGBps', 'GB/s', (o, c) =>
    within(o.vramBandwidthGBps, c.vramBandwidthGBps),
  ),
  numericRule('tflops', 'tflops', 'TFLOPS', (o, c) => within(o.tflops, c.tflops)),
  {
    name: 'cuda',
    applies: (ctx) => ctx.cuda.active,
    test: (offer, ctx) => offer.cudaMax !== undefined && within(versionKey(offer.cudaMax), ctx.cuda),
    why: (offer, ctx) => {
      const b = ctx.cuda;
      if (offer.cudaMax === undefined) return 'cuda unknown (the offer does not report it)';
      if (b.exact) return `cuda ${offer.cudaMax} != cuda ${b.loText}`;
      return versionKey(offer.cudaMax) < b.lo
        ? `cuda ${offer.cudaMax} < cuda-min ${b.loText}`
        : `cuda ${offer.cudaMax} > cuda-max ${b.hiText}`;
    },
  },
  numericRule('cpu', 'cpuCores', 'cores', (o, c) => within(o.cpuCores, c.cpuCores)),
  numericRule('ram', 'ramMb', 'MB', (o, c) => within(o.ramMb, c.ramMb)),
  numericRule('price', 'pricePerHour', 'USD/h', (o, c) => within(o.pricePerHour, c.pricePerHour)),
  numericRule('upload-speed', 'uploadMbps', 'Mbps', (o, c) => within(o.uploadMbps, c.uploadMbps)),
  numericRule('download-speed', 'downloadMbps', 'Mbps', (o, c) => within(o.downloadMbps, c.downloadMbps)),
  numericRule('disk-space-gb', 'diskGb', 'GB', (o, c) => within(o.diskGb, c.diskGb)),
  numericRule('disk-bw', 'diskBwMBps', 'MB/s', (o, c) => within(o.diskBwMBps, c.diskBwMBps)),
  {
    name: 'verified-only',
    applies: (ctx) => ctx.verifiedOnly,
    test: (offer) => offer.verified === true,
    why: (offer) => (offer.verified === undefined ? 'verification unknown' : 'machine is not verified'),
  },
  {
    name: 'datacenter-only',
    applies: (ctx) => ctx.datacenterOnly,
    test: (offer) => offer.datacenter === true,
    why: () => 'machine is not datacenter hardware',
  },
  numericRule('dlperf', 'dlperf', '', (o, c) => within(o.dlperf, c.dlperf)),
  {
    name: 'reliability-min',
    applies: (ctx) => ctx.reliabilityMin !== undefined,
    test: (offer, ctx) => offer.reliability !== undefined && offer.reliability >= (ctx.reliabilityMin ?? 0),
    why: (offer, ctx) =>
      offer.reliability === undefined
        ? 'reliability unknown (the offer does not report it)'
        : `reliability ${offer.reliability} < reliability-min ${ctx.reliabilityMin}`,
  },
  {
    name: 'cloud-type',
    applies: (ctx) => ctx.cloudTypes !== undefined,
    test: (offer, ctx) => contains(ctx.cloudTypes, offer.cloudType),
    why: (offer, ctx) => `cloud ${offer.cloudType ?? 'unknown'} not in ${list(ctx.cloudTypes ?? [])}`,
  },
  {
    name: 'datacenter-ids',
    applies: (ctx) => ctx.dataCenters !== undefined,
    test: (offer, ctx) =>
      offer.dataCenterId !== undefined && ctx.dataCenters?.has(offer.dataCenterId) === true,
    why: (offer, ctx) =>
      `data center ${offer.dataCenterId ?? 'unknown'} not in ${list(ctx.dataCenters?.keys() ?? [])}`,
  },
];

/** The rules that apply to this context, in funnel order. */
export function activeRules(ctx: FilterContext): FilterRule[] {
  return RULES.filter((rule) => rule.applies(ctx));
}
