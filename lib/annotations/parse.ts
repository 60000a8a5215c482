import { z } from 'zod';
import { providersOfGpu } from '../offers/gpu-catalog.ts';
import { PROVIDERS, type ProviderName } from '../offers/offer.ts';
import { allowEgressIssues } from './allow-egress.ts';
import {
  CUDA_KEY,
  isAnexKey,
  isKnownKey,
  KNOWN_ANNOTATION_KEYS,
  LIST_KEYS,
  NUMERIC_FIELDS,
  type NumericTarget,
  providerOfKey,
  REPORTED_KEYS,
} from './keys.ts';
import { parseProviderKeys, parseSharedLists } from './parse-lists.ts';
import { providerTitle, unsupportedKeyErrors } from './provider-support.ts';
import { type Findings, parseNumericFamily, parseVersionFamily } from './ranges.ts';
import type { NumericConstraint, Requirements } from './requirements.ts';
import { suggest } from './suggest.ts';

/** GB of container disk allocated when `anex.sh/disk-space-gb*` does not say (DESIGN §3). */
export const DEFAULT_DISK_GB = 20;

/** What the parser reads from a pod (see pod-input.ts for getting it out of a manifest). */
export interface RequirementsInput {
  annotations?: Readonly<Record<string, string>> | undefined;
  nodeSelector?: Readonly<Record<string, string>> | undefined;
  /** each container's `resources.limits["nvidia.com/gpu"]`, where set */
  gpuLimits?: readonly number[] | undefined;
  /**
   * The containers' summed `resources.requests`: cpu in cores, memory in MB (2^20 bytes, the
   * unit of `anex.sh/ram`). Without
   * `anex.sh/cpu*` / `ram*` they become the offer's minimum cores and RAM (Vast.AI; RunPod
   * reports neither, so there they are only noted).
   */
  resourceRequests?: { cpuCores?: number | undefined; ramMb?: number | undefined } | undefined;
  /** the CLI's --provider: wins over nodeSelector */
  providerOverride?: ProviderName | undefined;
}

export type ParseResult =
  | { ok: true; requirements: Requirements }
  | { ok: false; errors: readonly string[]; warnings: readonly string[] };

const inputSchema = z.object({
  annotations: z.record(z.string(), z.string()).optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  gpuLimits: z.array(z.number().int().nonnegative()).optional(),
  resourceRequests: z
    .object({ cpuCores: z.number().nonnegative().optional(), ramMb: z.number().nonnegative().optional() })
    .optional(),
  providerOverride: z.enum(PROVIDERS).optional(),
});

function resolveProvider(input: RequirementsInput, errors: string[]): ProviderName | undefined {
  if (input.providerOverride !== undefined) return input.providerOverride;
  const value = input.nodeSelector?.['node-provider'];
  if (value === undefined) {
    errors.push('nodeSelector node-provider is missing; expected "vastai" or "runpod"');
    return undefined;
  }
  if (!(PROVIDERS as readonly string[]).includes(value)) {
    errors.push(
      `nodeSelector node-provider: ${JSON.stringify(value)} is not a provider; expected "vastai" or "runpod"`,
    );
    return undefined;
  }
  return value as ProviderName;
}

/** Splits anex keys into the ones to read; unknown → error, other provider's → warning. */
function screenKeys(annotations: Readonly<Record<string, string>>, provider: ProviderName | undefined) {
  const errors: string[] = [];
  const warnings: string[] = [];
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (!isAnexKey(key) || REPORTED_KEYS.has(key)) continue;
    if (!isKnownKey(key)) {
      const hint = suggest(key, KNOWN_ANNOTATION_KEYS);
      errors.push(`${key}: unknown annotation${hint === undefined ? '' : `; did you mean ${hint}?`}`);
      continue;
    }
    const keyProvider = providerOfKey(key);
    if (provider !== undefined && keyProvider !== undefined && keyProvider !== provider) {
      warnings.push(
        `${key} is a ${providerTitle(keyProvider)} annotation; ignored for a ${providerTitle(provider)} pod`,
      );
      continue;
    }
    own[key] = value;
  }
  return { own, errors, warnings };
}

function parseNumerics(annotations: Readonly<Record<string, string>>, findings: Findings) {
  const out: Partial<Record<NumericTarget, NumericConstraint>> = {};
  for (const field of NUMERIC_FIELDS) {
    const constraint = parseNumericFamily(annotations, field.key, field, findings);
    if (constraint !== undefined) out[field.target] = constraint;
  }
  return out;
}

interface GpuCountInput {
  annotated: NumericConstraint | undefined;
  gpuLimits: readonly number[] | undefined;
  provider: ProviderName;
  findings: Findings;
}

/** gpu-count unset → the containers' nvidia.com/gpu limits, else any (Vast) / exactly 1 (RunPod). */
function resolveGpuCount({ annotated, gpuLimits, provider, findings }: GpuCountInput) {
  const limits = (gpuLimits ?? []).reduce((sum, n) => sum + n, 0);
  if (annotated !== undefined) {
    // A GPU ResourceQuota counts the limits: a machine with another number of GPUs would
    // slip past it (or bill for GPUs the quota never saw).
    const outside =
      'exact' in annotated
        ? annotated.exact !== limits
        : (annotated.min !== undefined && limits < annotated.min) ||
          (annotated.max !== undefined && limits > annotated.max);
    if (limits > 0 && outside) {
      findings.errors.push(
        `anex.sh/gpu-count ${describeCount(annotated)} disagrees with the containers' nvidia.com/gpu limits (${limits}); make them agree (a GPU ResourceQuota counts the limits) or drop one`,
      );
    }
    return annotated;
  }
  if (limits > 0) {
    findings.notes.push(
      `anex.sh/gpu-count is unset: using the containers' nvidia.com/gpu limits (${limits})`,
    );
    return { exact: limits };
  }
  if (provider === 'runpod') {
    findings.notes.push('anex.sh/gpu-count is unset: a RunPod pod gets exactly 1 GPU');
    return { exact: 1 };
  }
  return undefined;
}

function describeCount(c: NumericConstraint): string {
  if ('exact' in c) return `"${c.exact}"`;
  return `${c.min === undefined ? '' : `min ${c.min}`}${c.min !== undefined && c.max !== undefined ? ', ' : ''}${c.max === undefined ? '' : `max ${c.max}`}`;
}

/**
 * The containers' requests as the offer's minimum cores and RAM where no annotation says
 * otherwise (the annotations win). RunPod reports neither: noted, not applied.
 */
function requestFloors(
  requests: RequirementsInput['resourceRequests'],
  numerics: { cpuCores?: NumericConstraint; ramMb?: NumericConstraint },
  provider: ProviderName,
  notes: string[],
): { cpuCores?: NumericConstraint; ramMb?: NumericConstraint } {
  const out: { cpuCores?: NumericConstraint; ramMb?: NumericConstraint } = {};
  const cpu = requests?.cpuCores;
  const ram = requests?.ramMb;
  if ((cpu ?? 0) <= 0 && (ram ?? 0) <= 0) return out;
  if (provider === 'runpod') {
    notes.push(
      "the container's resources.requests (cpu, memory) are not filtered on: RunPod reports neither",
    );
    return out;
  }
  if (cpu !== undefined && cpu > 0 && numerics.cpuCores === undefined) {
    out.cpuCores = { min: cpu };
    notes.push(`anex.sh/cpu is unset: the container's cpu request (${cpu} cores) is the minimum`);
  }
  if (ram !== undefined && ram > 0 && numerics.ramMb === undefined) {
    out.ramMb = { min: Math.ceil(ram) };
    notes.push(`anex.sh/ram is unset: the container's memory request (${Math.ceil(ram)} MB) is the minimum`);
  }
  return out;
}

/** A warning per requested GPU the pod's provider does not list (another provider does). */
function otherProvidersGpus(names: readonly string[] | undefined, provider: ProviderName): string[] {
  return (names ?? [])
    .filter((name) => !providersOfGpu(name).includes(provider))
    .map(
      (name) =>
        `${LIST_KEYS.gpuNames}: ${JSON.stringify(name)} is not a ${providerTitle(provider)} GPU model; no ${providerTitle(provider)} offer matches it`,
    );
}

/**
 * The offers a disk annotation keeps: an exact `disk-space-gb` is the disk to allocate (the
 * seed: "container disk to allocate"), so it keeps every offer with at least that much free —
 * not only those with exactly that much (issue #12); `-min`/`-max` stay a range.
 */
function diskFloor(disk: NumericConstraint): NumericConstraint {
  return 'exact' in disk ? { min: disk.exact } : disk;
}

/** Disk to allocate: exact, else min, else the default (capped by a max below it). */
function diskToAllocate(disk: NumericConstraint | undefined): number {
  if (disk === undefined) return DEFAULT_DISK_GB;
  if ('exact' in disk) return disk.exact;
  if (disk.min !== undefined) return disk.min;
  return disk.max !== undefined && disk.max < DEFAULT_DISK_GB ? disk.max : DEFAULT_DISK_GB;
}

/**
 * A pod's annotations (+ nodeSelector `node-provider`, + containers' `nvidia.com/gpu`
 * limits) → {@link Requirements}, or every problem found. Pure; DESIGN §3 to the letter.
 */
export function parseRequirements(input: RequirementsInput): ParseResult {
  const shape = inputSchema.safeParse(input);
  if (!shape.success) {
    return {
      ok: false,
      errors: shape.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      warnings: [],
    };
  }
  const errors: string[] = [];
  const provider = resolveProvider(input, errors);
  const screened = screenKeys(input.annotations ?? {}, provider);
  errors.push(...screened.errors);
  const annotations = screened.own;
  const findings: Findings = { errors, notes: [] };
  const numerics = parseNumerics(annotations, findings);
  const cuda = parseVersionFamily(annotations, CUDA_KEY, findings);
  const lists = parseSharedLists(annotations, errors);
  const providerKeys = parseProviderKeys(annotations, errors);
  // Not a requirement of the machine, but a pod with a bad one waits like any other (ADR 0020).
  errors.push(...allowEgressIssues(annotations));
  if (provider === undefined) return { ok: false, errors, warnings: screened.warnings };
  errors.push(...unsupportedKeyErrors(provider, Object.keys(annotations)));
  const gpuCount = resolveGpuCount({
    annotated: numerics.gpuCount,
    gpuLimits: input.gpuLimits,
    provider,
    findings,
  });
  if (errors.length > 0) return { ok: false, errors, warnings: screened.warnings };
  screened.warnings.push(...otherProvidersGpus(lists.gpuNames, provider));
  const { dlperf, diskGb, gpuCount: _annotatedCount, ...shared } = numerics;
  if (provider === 'runpod' && diskGb !== undefined) {
    findings.notes.push(
      'anex.sh/disk-space-gb sizes the RunPod container disk at create; RunPod reports no disk figure to filter offers on',
    );
  }
  const floors = requestFloors(input.resourceRequests, shared, provider, findings.notes);
  const requirements: Requirements = {
    provider,
    ...lists,
    ...shared,
    ...floors,
    ...(gpuCount === undefined ? {} : { gpuCount }),
    ...(cuda === undefined ? {} : { cuda }),
    ...(diskGb === undefined || provider === 'runpod' ? {} : { diskGb: diskFloor(diskGb) }),
    diskToAllocateGb: diskToAllocate(diskGb),
    vastai: { ...providerKeys.vastai, ...(dlperf === undefined ? {} : { dlperf }) },
    runpod: providerKeys.runpod,
    notes: findings.notes,
    warnings: screened.warnings,
  };
  return { ok: true, requirements };
}
