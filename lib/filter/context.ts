import type { NumericConstraint, Requirements, VersionConstraint } from '../annotations/requirements.ts';
import { acceptedGpuKeys } from '../offers/gpu-names.ts';
import type { Ban } from '../state/store.ts';

/**
 * Requirements compiled once per `select`/`explain` call into the plain numbers, sets and
 * maps the rules compare against, so the per-offer path does no parsing or allocation.
 */

/** An inclusive numeric window; inactive bounds are -Infinity / +Infinity. */
export interface Bounds {
  active: boolean;
  exact: boolean;
  lo: number;
  hi: number;
}

/** A version window over {@link versionKey} values, plus the texts for messages. */
export interface VersionBounds extends Bounds {
  loText: string;
  hiText: string;
}

/**
 * Allowed values are short lists (≤ 6 regions, a few GPU names), so they are kept as arrays
 * and scanned: for a handful of strings a scan beats a hash lookup in the per-offer path.
 */
export interface FilterContext {
  requirements: Requirements;
  regions: readonly string[] | undefined;
  /** gpuKey → position in `anex.sh/gpu-names` (the priority of keep-gpu-type-priority) */
  gpuKeys: ReadonlyMap<string, number> | undefined;
  /** the keys of `gpuKeys`, for the per-offer test */
  gpuKeyList: readonly string[] | undefined;
  computeCaps: readonly string[] | undefined;
  gpuCount: Bounds;
  vramMb: Bounds;
  vramTotalMb: Bounds;
  vramBandwidthGBps: Bounds;
  tflops: Bounds;
  cuda: VersionBounds;
  cpuCores: Bounds;
  ramMb: Bounds;
  pricePerHour: Bounds;
  uploadMbps: Bounds;
  downloadMbps: Bounds;
  diskGb: Bounds;
  diskBwMBps: Bounds;
  dlperf: Bounds;
  /** `vastai.anex.sh/reliability-min`; undefined when unset or another provider's pod */
  reliabilityMin: number | undefined;
  verifiedOnly: boolean;
  datacenterOnly: boolean;
  cloudTypes: readonly string[] | undefined;
  /** data-center id → position in `runpod.anex.sh/datacenter-ids` */
  dataCenters: ReadonlyMap<string, number> | undefined;
  /** machineId → expiresAt, only bans of this provider in force at `now` */
  bans: ReadonlyMap<string, number>;
}

/** `list.includes(value)` written as a plain loop (no allocation, no callback). */
export function contains(list: readonly string[] | undefined, value: string | undefined): boolean {
  if (list === undefined || value === undefined) return false;
  for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
  return false;
}

export function boundsOf(constraint: NumericConstraint | undefined): Bounds {
  if (constraint === undefined) return { active: false, exact: false, lo: -Infinity, hi: Infinity };
  if ('exact' in constraint) return { active: true, exact: true, lo: constraint.exact, hi: constraint.exact };
  return { active: true, exact: false, lo: constraint.min ?? -Infinity, hi: constraint.max ?? Infinity };
}

const MINOR_SPAN = 1_000_000;

/**
 * "12.10" → 12_000_010: a number whose order is the version order (12.10 > 12.9), read
 * char by char so the hot path allocates nothing. NaN for anything but "digits.digits".
 */
export function versionKey(text: string): number {
  let major = 0;
  let minor = 0;
  let dot = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && dot < 0 && i > 0) dot = i;
    else if (c >= 48 && c <= 57) {
      if (dot < 0) major = major * 10 + (c - 48);
      else minor = minor * 10 + (c - 48);
    } else return Number.NaN;
  }
  return dot < 0 || dot === text.length - 1 ? Number.NaN : major * MINOR_SPAN + minor;
}

function versionBoundsOf(constraint: VersionConstraint | undefined): VersionBounds {
  if (constraint === undefined) {
    return { active: false, exact: false, lo: -Infinity, hi: Infinity, loText: '', hiText: '' };
  }
  if ('exact' in constraint) {
    const key = versionKey(constraint.exact);
    return {
      active: true,
      exact: true,
      lo: key,
      hi: key,
      loText: constraint.exact,
      hiText: constraint.exact,
    };
  }
  return {
    active: true,
    exact: false,
    lo: constraint.min === undefined ? -Infinity : versionKey(constraint.min),
    hi: constraint.max === undefined ? Infinity : versionKey(constraint.max),
    loText: constraint.min ?? '',
    hiText: constraint.max ?? '',
  };
}

function positions(values: readonly string[] | undefined, keysOf: (v: string) => readonly string[]) {
  if (values === undefined) return undefined;
  const map = new Map<string, number>();
  values.forEach((value, index) => {
    for (const key of keysOf(value)) if (!map.has(key)) map.set(key, index);
  });
  return map;
}

function activeBans(requirements: Requirements, bans: readonly Ban[], now: number): Map<string, number> {
  const map = new Map<string, number>();
  for (const ban of bans) {
    if (ban.provider !== requirements.provider || ban.expiresAt <= now) continue;
    map.set(ban.machineId, Math.max(ban.expiresAt, map.get(ban.machineId) ?? 0));
  }
  return map;
}

/** Compiles requirements, bans and `now` (epoch ms) into a context. */
export function compileContext(requirements: Requirements, bans: readonly Ban[], now: number): FilterContext {
  const r = requirements;
  const gpuKeys = positions(r.gpuNames, acceptedGpuKeys);
  return {
    requirements: r,
    regions: r.regions === undefined ? undefined : [...r.regions],
    gpuKeys,
    gpuKeyList: gpuKeys === undefined ? undefined : [...gpuKeys.keys()],
    computeCaps: r.computeCaps === undefined ? undefined : [...r.computeCaps],
    gpuCount: boundsOf(r.gpuCount),
    vramMb: boundsOf(r.vramMb),
    vramTotalMb: boundsOf(r.vramTotalMb),
    vramBandwidthGBps: boundsOf(r.vramBandwidthGBps),
    tflops: boundsOf(r.tflops),
    cuda: versionBoundsOf(r.cuda),
    cpuCores: boundsOf(r.cpuCores),
    ramMb: boundsOf(r.ramMb),
    pricePerHour: boundsOf(r.pricePerHour),
    uploadMbps: boundsOf(r.uploadMbps),
    downloadMbps: boundsOf(r.downloadMbps),
    diskGb: boundsOf(r.diskGb),
    diskBwMBps: boundsOf(r.diskBwMBps),
    dlperf: boundsOf(r.provider === 'vastai' ? r.vastai.dlperf : undefined),
    reliabilityMin: r.provider === 'vastai' ? r.vastai.reliabilityMin : undefined,
    verifiedOnly: r.provider === 'vastai' && r.vastai.verifiedOnly,
    datacenterOnly: r.provider === 'vastai' && r.vastai.datacenterOnly === true,
    cloudTypes: r.provider === 'runpod' && r.runpod.cloudTypes ? [...r.runpod.cloudTypes] : undefined,
    dataCenters:
      r.provider === 'runpod' ? positions(r.runpod.dataCenterIds, (id) => [id.toUpperCase()]) : undefined,
    bans: activeBans(r, bans, now),
  };
}
