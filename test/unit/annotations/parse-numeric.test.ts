import { describe, expect, it } from 'vitest';
import { parseRequirements } from '../../../lib/annotations/parse.ts';
import type { NumericConstraint, Requirements } from '../../../lib/annotations/requirements.ts';

function parseVast(annotations: Record<string, string>) {
  return parseRequirements({ annotations, nodeSelector: { 'node-provider': 'vastai' } });
}

function accepted(annotations: Record<string, string>): Requirements {
  const result = parseVast(annotations);
  if (!result.ok) throw new Error(`expected valid annotations, got: ${result.errors.join(' | ')}`);
  return result.requirements;
}

function rejected(annotations: Record<string, string>): readonly string[] {
  const result = parseVast(annotations);
  if (result.ok) throw new Error('expected invalid annotations');
  return result.errors;
}

type Read = (r: Requirements) => NumericConstraint | undefined;

// Every numeric row of the seed table (+ Vast's dlperf): key, where it lands, the accepted form.
const FAMILIES: readonly [string, Read, string][] = [
  ['anex.sh/gpu-count', (r) => r.gpuCount, 'a whole number of GPUs (e.g. "2")'],
  ['anex.sh/vram', (r) => r.vramMb, 'a number of megabytes (e.g. "20480")'],
  ['anex.sh/vram-total', (r) => r.vramTotalMb, 'a number of megabytes (e.g. "49152")'],
  ['anex.sh/vram-bandwidth', (r) => r.vramBandwidthGBps, 'a memory bandwidth in GB/s (e.g. "900")'],
  ['anex.sh/tflops', (r) => r.tflops, 'a number of TFLOPS (e.g. "80")'],
  ['anex.sh/cpu', (r) => r.cpuCores, 'a number of CPU cores (e.g. "8")'],
  ['anex.sh/ram', (r) => r.ramMb, 'a number of megabytes (e.g. "32768")'],
  ['anex.sh/price', (r) => r.pricePerHour, 'a price in USD per hour for the whole machine (e.g. "1.50")'],
  ['anex.sh/upload-speed', (r) => r.uploadMbps, 'a speed in Mbps (e.g. "500")'],
  ['anex.sh/download-speed', (r) => r.downloadMbps, 'a speed in Mbps (e.g. "1000")'],
  ['anex.sh/disk-space-gb', (r) => r.diskGb, 'a number of gigabytes (e.g. "100")'],
  ['anex.sh/disk-bw', (r) => r.diskBwMBps, 'a disk bandwidth in MB/s (e.g. "2000")'],
  ['vastai.anex.sh/dlperf', (r) => r.vastai.dlperf, 'a DLPerf score (e.g. "40")'],
];

/** What an exact value filters: the value itself — but disk-space-gb is the disk to allocate, so a floor (issue #12). */
const exactly = (key: string, value: number) =>
  key === 'anex.sh/disk-space-gb' ? { min: value } : { exact: value };

describe('parseRequirements: numeric annotations', () => {
  it.each(FAMILIES)('%s: the exact form sets an exact constraint (disk: a floor)', (key, read) => {
    expect(read(accepted({ [key]: '4' }))).toEqual(exactly(key, 4));
  });

  it.each(FAMILIES)('%s: -min and -max set an inclusive range', (key, read) => {
    expect(read(accepted({ [`${key}-min`]: '2', [`${key}-max`]: '6' }))).toEqual({ min: 2, max: 6 });
    expect(read(accepted({ [`${key}-min`]: '3' }))).toEqual({ min: 3 });
    expect(read(accepted({ [`${key}-max`]: '3' }))).toEqual({ max: 3 });
  });

  it.each(FAMILIES)('%s: min equal to max is a valid boundary, whitespace is trimmed', (key, read) => {
    expect(read(accepted({ [`${key}-min`]: ' 5 ', [`${key}-max`]: '5' }))).toEqual({ min: 5, max: 5 });
  });

  it.each(FAMILIES)('%s: the exact value overrides -min/-max, with a note', (key, read) => {
    const requirements = accepted({ [key]: '4', [`${key}-min`]: '1', [`${key}-max`]: '9' });
    expect(read(requirements)).toEqual(exactly(key, 4));
    expect(requirements.notes).toContain(`${key} is set: ${key}-min and ${key}-max are ignored`);
  });

  it.each(FAMILIES)('%s: a non-number is an error naming the key, value and form', (key, _read, form) => {
    expect(rejected({ [`${key}-min`]: '20GB' })).toEqual([`${key}-min: "20GB" is not ${form}`]);
  });

  it.each(FAMILIES)('%s: a negative number is an error', (key, _read, form) => {
    expect(rejected({ [`${key}-max`]: '-1' })).toEqual([`${key}-max: "-1" is negative; expected ${form}`]);
  });

  it.each(FAMILIES)('%s: min greater than max is an error', (key) => {
    expect(rejected({ [`${key}-min`]: '10', [`${key}-max`]: '5' })).toEqual([
      `${key}-min: "10" is greater than ${key}-max "5"; no offer can match`,
    ]);
  });

  it.each(FAMILIES)('%s: an invalid bound is reported even when the exact value wins', (key, _read, form) => {
    expect(rejected({ [key]: '4', [`${key}-min`]: 'lots' })).toEqual([`${key}-min: "lots" is not ${form}`]);
  });

  it('keeps the seed example message word for word', () => {
    expect(rejected({ 'anex.sh/vram-min': '20GB' })).toEqual([
      'anex.sh/vram-min: "20GB" is not a number of megabytes (e.g. "20480")',
    ]);
  });

  it.each([
    ['0', 'anex.sh/gpu-count: "0" is less than 1; expected a whole number of GPUs (e.g. "2")'],
    ['1.5', 'anex.sh/gpu-count: "1.5" is not a whole number of GPUs (e.g. "2")'],
    ['two', 'anex.sh/gpu-count: "two" is not a whole number of GPUs (e.g. "2")'],
  ])('gpu-count %j is refused', (value, message) => {
    expect(rejected({ 'anex.sh/gpu-count': value })).toEqual([message]);
  });

  it.each([
    ['anex.sh/price-max', '0', { max: 0 }],
    ['anex.sh/price-max', '1.50', { max: 1.5 }],
    ['anex.sh/vram-min', '0', { min: 0 }],
    ['anex.sh/cpu-min', '.5', { min: 0.5 }],
  ])('%s %j is accepted', (key, value, expected) => {
    const r = accepted({ [key]: value });
    expect(
      key === 'anex.sh/price-max' ? r.pricePerHour : key === 'anex.sh/vram-min' ? r.vramMb : r.cpuCores,
    ).toEqual(expected);
  });

  it.each(['1e3', '0x10', 'Infinity', 'NaN', '', '1,000'])('rejects %j as a number', (value) => {
    expect(rejected({ 'anex.sh/ram-min': value })).toEqual([
      `anex.sh/ram-min: ${JSON.stringify(value)} is not a number of megabytes (e.g. "32768")`,
    ]);
  });
});

describe('parseRequirements: anex.sh/cuda (a version, not a float)', () => {
  it.each([
    [{ 'anex.sh/cuda': '12.4' }, { exact: '12.4' }],
    [
      { 'anex.sh/cuda-min': '12.9', 'anex.sh/cuda-max': '12.10' },
      { min: '12.9', max: '12.10' },
    ],
    [{ 'anex.sh/cuda-min': '12.04' }, { min: '12.4' }],
  ])('%j → %j', (annotations, expected) => {
    expect(accepted(annotations).cuda).toEqual(expected);
  });

  it('refuses cuda-min 12.10 above cuda-max 12.9 (12.10 > 12.9)', () => {
    expect(rejected({ 'anex.sh/cuda-min': '12.10', 'anex.sh/cuda-max': '12.9' })).toEqual([
      'anex.sh/cuda-min: "12.10" is greater than anex.sh/cuda-max "12.9"; no offer can match',
    ]);
  });

  it.each(['12', '12.x', 'v12.4', '12.4.1'])('refuses %j', (value) => {
    expect(rejected({ 'anex.sh/cuda': value })).toEqual([
      `anex.sh/cuda: ${JSON.stringify(value)} is not a CUDA version major.minor (e.g. "12.4")`,
    ]);
  });

  it('notes that an exact cuda overrides the range', () => {
    expect(accepted({ 'anex.sh/cuda': '12.4', 'anex.sh/cuda-min': '11.8' }).notes).toEqual([
      'anex.sh/cuda is set: anex.sh/cuda-min is ignored',
    ]);
  });
});
