import { describe, expect, it } from 'vitest';
import { KNOWN_ANNOTATION_KEYS } from '../../../lib/annotations/keys.ts';
import { parseRequirements, type RequirementsInput } from '../../../lib/annotations/parse.ts';
import type { Requirements } from '../../../lib/annotations/requirements.ts';
import type { ProviderName } from '../../../lib/offers/offer.ts';

function input(annotations: Record<string, string>, provider: ProviderName = 'vastai'): RequirementsInput {
  return { annotations, nodeSelector: { 'node-provider': provider } };
}

function accepted(annotations: Record<string, string>, provider: ProviderName = 'vastai'): Requirements {
  const result = parseRequirements(input(annotations, provider));
  if (!result.ok) throw new Error(`expected valid annotations, got: ${result.errors.join(' | ')}`);
  return result.requirements;
}

function rejected(annotations: Record<string, string>, provider: ProviderName = 'vastai'): readonly string[] {
  const result = parseRequirements(input(annotations, provider));
  if (result.ok) throw new Error('expected invalid annotations');
  return result.errors;
}

describe('parseRequirements: lists (OR within a list)', () => {
  it.each([
    ['europe', ['europe']],
    [' europe , north-america ', ['europe', 'north-america']],
    ['europe,,asia-pacific,', ['europe', 'asia-pacific']],
    ['Europe,OCEANIA', ['europe', 'oceania']],
    ['africa,south-america,africa', ['africa', 'south-america']],
  ])('anex.sh/region %j → %j', (value, expected) => {
    expect(accepted({ 'anex.sh/region': value }).regions).toEqual(expected);
  });

  it.each([
    [
      'eruope',
      'anex.sh/region: "eruope" is not a region (did you mean "europe"?); expected one of europe, north-america, asia-pacific, africa, south-america, oceania',
    ],
    [
      'mars',
      'anex.sh/region: "mars" is not a region; expected one of europe, north-america, asia-pacific, africa, south-america, oceania',
    ],
    [
      ' , ,',
      'anex.sh/region: " , ," is an empty list; expected comma-separated values (e.g. "europe,north-america")',
    ],
  ])('anex.sh/region %j is refused', (value, message) => {
    expect(rejected({ 'anex.sh/region': value })).toEqual([message]);
  });

  it('keeps gpu-names as written, trimmed, in order', () => {
    expect(accepted({ 'anex.sh/gpu-names': ' RTX 4090 ,RTX 3090,, A100 PCIE' }).gpuNames).toEqual([
      'RTX 4090',
      'RTX 3090',
      'A100 PCIE',
    ]);
  });

  // vast audit #5: a name no provider lists is refused with the closest known one, never
  // searched without a GPU filter (lib/offers/gpu-catalog.ts).
  it.each([
    ['RTX 4090x', 'RTX 4090'],
    ['4090', 'RTX 4090'],
    ['A6000', 'RTX A6000'],
    ['H100 SMX', 'H100 SXM'],
    ['Radeon Zeta 9', undefined],
  ])('refuses gpu-names %j (suggesting %j)', (name, hint) => {
    expect(rejected({ 'anex.sh/gpu-names': `RTX 3090,${name}` })).toEqual([
      `anex.sh/gpu-names: ${JSON.stringify(name)} is not a GPU model any provider lists${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; expected a model name such as "RTX 4090" or "H100 SXM" (the list: docs/annotations.md)`,
    ]);
  });

  it.each([
    'RTX 5880 Ada',
    'NVIDIA RTX A4500',
    'Quadro RTX 6000',
    'Instinct MI210',
    'GeForce RTX 2080 SUPER',
    'rtx_5060_ti',
  ])('accepts gpu-names %j, a spelling of a Vast model', (name) => {
    expect(accepted({ 'anex.sh/gpu-names': name }).warnings).toEqual([]);
  });

  it.each([
    [
      'MI300X',
      'vastai',
      'anex.sh/gpu-names: "MI300X" is not a Vast.AI GPU model; no Vast.AI offer matches it',
    ],
    [
      'RTX 5880Ada',
      'runpod',
      'anex.sh/gpu-names: "RTX 5880Ada" is not a RunPod GPU model; no RunPod offer matches it',
    ],
  ] as const)('accepts %j, known to one provider, with a warning on a %s pod', (name, provider, warning) => {
    const requirements = accepted({ 'anex.sh/gpu-names': `RTX 4090,${name}` }, provider);
    expect(requirements.gpuNames).toEqual(['RTX 4090', name]);
    expect(requirements.warnings).toEqual([warning]);
  });

  it.each([
    ['0.98', 0.98],
    [' 0.9 ', 0.9],
    ['1', 1],
    ['0', 0],
    ['.95', 0.95],
  ])('vastai.anex.sh/reliability-min %j → %s', (value, expected) => {
    expect(accepted({ 'vastai.anex.sh/reliability-min': value }).vastai.reliabilityMin).toBe(expected);
  });

  it.each(['98%', '1.5', '-0.1', 'high', '', '0.9.1'])(
    'refuses vastai.anex.sh/reliability-min %j',
    (value) => {
      expect(rejected({ 'vastai.anex.sh/reliability-min': value })).toEqual([
        `vastai.anex.sh/reliability-min: ${JSON.stringify(value)} is not a reliability score; expected a decimal from 0 to 1 (e.g. "0.98")`,
      ]);
    },
  );

  it('ignores vastai.anex.sh/reliability-min on a RunPod pod, with a warning', () => {
    const requirements = accepted({ 'vastai.anex.sh/reliability-min': '0.9' }, 'runpod');
    expect(requirements.vastai.reliabilityMin).toBeUndefined();
    expect(requirements.warnings).toEqual([
      'vastai.anex.sh/reliability-min is a Vast.AI annotation; ignored for a RunPod pod',
    ]);
  });

  it('refuses an empty gpu-names list', () => {
    expect(rejected({ 'anex.sh/gpu-names': ',' })).toEqual([
      'anex.sh/gpu-names: "," is an empty list; expected comma-separated values (e.g. "RTX 4090,RTX 3090")',
    ]);
  });

  it.each([
    ['8.6,8.9', ['8.6', '8.9']],
    ['9.0', ['9.0']],
    ['12.0, 8.6', ['12.0', '8.6']],
  ])('anex.sh/compute-cap %j → %j', (value, expected) => {
    expect(accepted({ 'anex.sh/compute-cap': value }).computeCaps).toEqual(expected);
  });

  it.each(['86', '8.60', 'sm_86', '8'])('anex.sh/compute-cap refuses %j', (value) => {
    expect(rejected({ 'anex.sh/compute-cap': value })).toEqual([
      `anex.sh/compute-cap: ${JSON.stringify(value)} is not a compute capability major.minor (e.g. "8.6")`,
    ]);
  });
});

describe('parseRequirements: Vast.AI keys', () => {
  it('defaults verified-only to true and leaves datacenter-only unset', () => {
    expect(accepted({}).vastai).toEqual({ verifiedOnly: true });
  });

  it.each([
    ['vastai.anex.sh/verified-only', 'false', { verifiedOnly: false }],
    ['vastai.anex.sh/verified-only', 'true', { verifiedOnly: true }],
    ['vastai.anex.sh/datacenter-only', 'true', { verifiedOnly: true, datacenterOnly: true }],
    ['vastai.anex.sh/datacenter-only', 'false', { verifiedOnly: true, datacenterOnly: false }],
  ])('%s %j', (key, value, expected) => {
    expect(accepted({ [key]: value }).vastai).toEqual(expected);
  });

  it.each(['yes', 'True', '1', ' true', ''])('booleans are exactly true/false: %j is refused', (value) => {
    expect(rejected({ 'vastai.anex.sh/datacenter-only': value })).toEqual([
      `vastai.anex.sh/datacenter-only: ${JSON.stringify(value)} is not a boolean; expected "true" or "false"`,
    ]);
  });
});

describe('parseRequirements: RunPod keys', () => {
  it.each([
    ['SECURE', ['SECURE']],
    ['COMMUNITY', ['COMMUNITY']],
    ['SECURE, COMMUNITY', ['SECURE', 'COMMUNITY']],
    ['secure', ['SECURE']],
  ])('cloud-type %j → %j', (value, expected) => {
    expect(accepted({ 'runpod.anex.sh/cloud-type': value }, 'runpod').runpod.cloudTypes).toEqual(expected);
  });

  it('refuses an unknown cloud type', () => {
    expect(rejected({ 'runpod.anex.sh/cloud-type': 'SECURE,SPOT' }, 'runpod')).toEqual([
      'runpod.anex.sh/cloud-type: "SPOT" is not a cloud type; expected SECURE or COMMUNITY (or both, comma-separated)',
    ]);
  });

  it('keeps datacenter-ids in priority order', () => {
    const r = accepted({ 'runpod.anex.sh/datacenter-ids': 'EU-RO-1, US-CA-2,eu-se-1' }, 'runpod');
    expect(r.runpod.dataCenterIds).toEqual(['EU-RO-1', 'US-CA-2', 'EU-SE-1']);
  });

  it.each([
    [
      ',',
      'runpod.anex.sh/datacenter-ids: "," is an empty list; expected comma-separated values (e.g. "EU-RO-1,US-CA-2")',
    ],
    ['EU RO 1', 'runpod.anex.sh/datacenter-ids: "EU RO 1" is not a data-center id (e.g. "EU-RO-1")'],
  ])('datacenter-ids %j is refused', (value, message) => {
    expect(rejected({ 'runpod.anex.sh/datacenter-ids': value }, 'runpod')).toEqual([message]);
  });

  it.each([
    [{}, false],
    [{ 'runpod.anex.sh/keep-gpu-type-priority': 'true' }, true],
    [{ 'runpod.anex.sh/keep-gpu-type-priority': 'false' }, false],
  ])('keep-gpu-type-priority %j → %s', (annotations, expected) => {
    expect(accepted(annotations, 'runpod').runpod.keepGpuTypePriority).toBe(expected);
  });

  it.each([
    // runpod audit #12: the create takes a floor per GPU, never a ceiling.
    [
      'anex.sh/cpu-max',
      'its create takes a vCPU floor per GPU but no ceiling, and its API reports no vCPUs per GPU type; use anex.sh/cpu-min',
    ],
    [
      'anex.sh/ram',
      'its create takes a RAM floor per GPU but no ceiling, and its API reports no RAM per GPU type; use anex.sh/ram-min',
    ],
    [
      'anex.sh/upload-speed-min',
      'its API neither reports upload speed nor accepts an upload minimum on create',
    ],
    [
      'anex.sh/download-speed-max',
      'its API neither reports download speed nor accepts a download minimum on create',
    ],
    [
      'anex.sh/disk-bw-min',
      'its API neither reports disk bandwidth nor accepts a disk-bandwidth minimum on create',
    ],
  ])('refuses %s for a RunPod pod, naming the annotation and why', (key, reason) => {
    expect(rejected({ [key]: '10' }, 'runpod')).toEqual([
      `${key}: RunPod cannot honour this constraint (${reason}); remove it, or run the pod on Vast.AI (node-provider: vastai)`,
    ]);
  });

  it.each([
    'anex.sh/cpu-min',
    'anex.sh/ram',
    'anex.sh/upload-speed-min',
    'anex.sh/download-speed-max',
    'anex.sh/disk-bw-min',
  ])('accepts %s for a Vast.AI pod', (key) => {
    expect(parseRequirements(input({ [key]: '10' })).ok).toBe(true);
  });

  it.each([
    'anex.sh/compute-cap',
    'anex.sh/vram-bandwidth-min',
    'anex.sh/tflops-min',
    'anex.sh/cuda-min',
    'anex.sh/cpu-min',
    'anex.sh/ram-min',
  ])('accepts %s for a RunPod pod (spec table / catalog / create floors honour it)', (key) => {
    const value = key === 'anex.sh/compute-cap' ? '8.9' : '12.4';
    expect(parseRequirements(input({ [key]: value }, 'runpod')).ok).toBe(true);
  });
});

describe('parseRequirements: keys', () => {
  it.each([
    ['anex.sh/vram-mn', 'anex.sh/vram-mn: unknown annotation; did you mean anex.sh/vram-min?'],
    ['anex.sh/gpu-name', 'anex.sh/gpu-name: unknown annotation; did you mean anex.sh/gpu-names?'],
    ['anex.sh/regions', 'anex.sh/regions: unknown annotation; did you mean anex.sh/region?'],
    [
      'anex.sh/verified-only',
      'anex.sh/verified-only: unknown annotation; did you mean vastai.anex.sh/verified-only?',
    ],
    [
      'vastai.anex.sh/verifed-only',
      'vastai.anex.sh/verifed-only: unknown annotation; did you mean vastai.anex.sh/verified-only?',
    ],
    [
      'runpod.anex.sh/cloudtype',
      'runpod.anex.sh/cloudtype: unknown annotation; did you mean runpod.anex.sh/cloud-type?',
    ],
    ['anex.sh/favourite-colour', 'anex.sh/favourite-colour: unknown annotation'],
  ])('unknown key %s is an error with a suggestion when one is close', (key, message) => {
    expect(rejected({ [key]: 'x' })).toEqual([message]);
  });

  it('ignores keys outside anex prefixes', () => {
    expect(
      accepted({ 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'example.com/anex.sh': 'x' })
        .notes,
    ).toEqual([]);
  });

  it.each([
    [
      'vastai',
      'runpod.anex.sh/cloud-type',
      'SPOT',
      'runpod.anex.sh/cloud-type is a RunPod annotation; ignored for a Vast.AI pod',
    ],
    [
      'runpod',
      'vastai.anex.sh/verified-only',
      'maybe',
      'vastai.anex.sh/verified-only is a Vast.AI annotation; ignored for a RunPod pod',
    ],
    [
      'runpod',
      'vastai.anex.sh/dlperf-min',
      '10',
      'vastai.anex.sh/dlperf-min is a Vast.AI annotation; ignored for a RunPod pod',
    ],
  ] as const)("a %s pod ignores the other provider's %s with a warning", (provider, key, value, warning) => {
    const r = accepted({ [key]: value }, provider);
    expect(r.warnings).toEqual([warning]);
    expect(r.vastai.dlperf).toBeUndefined();
    expect(r.runpod.cloudTypes).toBeUndefined();
  });

  it('reports every problem of a pod at once', () => {
    const errors = rejected({
      'anex.sh/vram-min': '20GB',
      'anex.sh/region': 'mars',
      'anex.sh/price-min': '2',
      'anex.sh/price-max': '1',
      'vastai.anex.sh/verified-only': 'yes',
      'anex.sh/gpu-nmes': 'RTX 4090',
    });
    expect(errors).toHaveLength(5);
  });

  it('lists every seed annotation among the known keys', () => {
    expect(KNOWN_ANNOTATION_KEYS).toHaveLength(3 + 12 * 3 + 3 + 2 + 3 + 1 + 3);
    expect(KNOWN_ANNOTATION_KEYS).toEqual(
      expect.arrayContaining([
        'anex.sh/region',
        'anex.sh/gpu-names',
        'anex.sh/compute-cap',
        'anex.sh/disk-bw-max',
        'anex.sh/cuda-min',
        'vastai.anex.sh/dlperf-max',
        'vastai.anex.sh/reliability-min',
        'runpod.anex.sh/keep-gpu-type-priority',
      ]),
    );
  });
});

describe('parseRequirements: provider, gpu-count and disk defaults', () => {
  it.each([
    [{}, 'nodeSelector node-provider is missing; expected "vastai" or "runpod"'],
    [
      { 'node-provider': 'aws' },
      'nodeSelector node-provider: "aws" is not a provider; expected "vastai" or "runpod"',
    ],
  ])('nodeSelector %j is refused', (nodeSelector, message) => {
    const result = parseRequirements({ annotations: {}, nodeSelector });
    expect(result).toEqual({ ok: false, errors: [message], warnings: [] });
  });

  it('lets the CLI override the provider', () => {
    const result = parseRequirements({
      annotations: {},
      nodeSelector: { 'node-provider': 'vastai' },
      providerOverride: 'runpod',
    });
    expect(result.ok && result.requirements.provider).toBe('runpod');
  });

  it.each([
    ['vastai', undefined, undefined, []],
    [
      'vastai',
      [1, 1],
      { exact: 2 },
      ["anex.sh/gpu-count is unset: using the containers' nvidia.com/gpu limits (2)"],
    ],
    ['vastai', [0], undefined, []],
    ['runpod', undefined, { exact: 1 }, ['anex.sh/gpu-count is unset: a RunPod pod gets exactly 1 GPU']],
    [
      'runpod',
      [4],
      { exact: 4 },
      ["anex.sh/gpu-count is unset: using the containers' nvidia.com/gpu limits (4)"],
    ],
  ] as const)('%s with gpu limits %j → gpu-count %j', (provider, gpuLimits, expected, notes) => {
    const result = parseRequirements({
      annotations: {},
      nodeSelector: { 'node-provider': provider },
      gpuLimits,
    });
    expect(result.ok && result.requirements.gpuCount).toEqual(expected ?? undefined);
    expect(result.ok && result.requirements.notes).toEqual(notes);
  });

  it.each([
    [
      { 'anex.sh/gpu-count': '2' },
      [1],
      'anex.sh/gpu-count "2" disagrees with the containers\' nvidia.com/gpu limits (1)',
    ],
    [{ 'anex.sh/gpu-count-min': '2' }, [1], 'anex.sh/gpu-count min 2 disagrees'],
    [{ 'anex.sh/gpu-count-max': '2' }, [4], 'anex.sh/gpu-count max 2 disagrees'],
  ] as const)(
    'refuses gpu-count %j that disagrees with the limits %j (a GPU quota counts the limits)',
    (annotations, gpuLimits, message) => {
      const result = parseRequirements({ ...input(annotations), gpuLimits });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.errors.join('\n')).toContain(message);
    },
  );

  it.each([
    [{ 'anex.sh/gpu-count': '2' }, [2], { exact: 2 }],
    [{ 'anex.sh/gpu-count-min': '1', 'anex.sh/gpu-count-max': '4' }, [2], { min: 1, max: 4 }],
  ] as const)('accepts gpu-count %j that agrees with the limits %j', (annotations, gpuLimits, expected) => {
    const result = parseRequirements({ ...input(annotations), gpuLimits });
    expect(result.ok && result.requirements.gpuCount).toEqual(expected);
  });

  it.each([
    ['vastai', {}, { cpuCores: 4, ramMb: 16384 }, { cpuCores: { min: 4 }, ramMb: { min: 16384 } }],
    [
      'vastai',
      { 'anex.sh/ram-min': '65536' },
      { cpuCores: 4, ramMb: 16384 },
      { cpuCores: { min: 4 }, ramMb: { min: 65536 } },
    ],
    ['runpod', {}, { cpuCores: 4, ramMb: 16384 }, {}],
  ] as const)(
    '%s: annotations %j and requests %j → floors %j',
    (provider, annotations, resourceRequests, expected) => {
      const result = parseRequirements({
        annotations,
        nodeSelector: { 'node-provider': provider },
        resourceRequests,
      });
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect({ cpuCores: result.requirements.cpuCores, ramMb: result.requirements.ramMb }).toEqual({
        cpuCores: undefined,
        ramMb: undefined,
        ...expected,
      });
      expect(result.requirements.notes.join('\n')).toMatch(
        provider === 'runpod' ? /RunPod reports neither/ : /is the minimum/,
      );
    },
  );

  it.each([
    [{}, undefined, 20],
    // The seed's value is the disk to allocate: offers with at least that much, not exactly.
    [{ 'anex.sh/disk-space-gb': '100' }, { min: 100 }, 100],
    [{ 'anex.sh/disk-space-gb-min': '50' }, { min: 50 }, 50],
    [{ 'anex.sh/disk-space-gb-min': '50', 'anex.sh/disk-space-gb-max': '80' }, { min: 50, max: 80 }, 50],
    [{ 'anex.sh/disk-space-gb-max': '10' }, { max: 10 }, 10],
    [{ 'anex.sh/disk-space-gb-max': '500' }, { max: 500 }, 20],
  ])('Vast disk %j filters %j and allocates %d GB', (annotations, filter, allocate) => {
    const r = accepted(annotations);
    expect(r.diskGb).toEqual(filter);
    expect(r.diskToAllocateGb).toBe(allocate);
  });

  it('on RunPod disk-space-gb only sizes the disk (the catalog has no disk figure), with a note', () => {
    const r = accepted({ 'anex.sh/disk-space-gb': '100' }, 'runpod');
    expect(r.diskGb).toBeUndefined();
    expect(r.diskToAllocateGb).toBe(100);
    expect(r.notes).toContain(
      'anex.sh/disk-space-gb sizes the RunPod container disk at create; RunPod reports no disk figure to filter offers on',
    );
  });
});
