import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VAST_POD = 'test/fixtures/pods/seed-example-vastai.yaml';
const RUNPOD_POD = 'test/fixtures/pods/seed-example-runpod.yaml';
const VAST_OFFERS = 'test/fixtures/providers/vastai-bundles.json';
const RUNPOD_GPUS = 'test/fixtures/providers/runpod-gpus.json';
const RUNPOD_DCS = 'test/fixtures/providers/runpod-datacenters.json';

function anex(...args: string[]) {
  const run = spawnSync(process.execPath, ['bin/anex.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function json(...args: string[]) {
  const run = anex(...args, '--output', 'json');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

const scratch = mkdtempSync(join(tmpdir(), 'anex-offers-'));
function writeScratch(name: string, content: string): string {
  const file = join(scratch, name);
  writeFileSync(file, content);
  return file;
}

function podWith(annotations: Record<string, string>, provider = 'vastai'): string {
  const lines = Object.entries(annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n${lines.join('\n')}\nspec:\n  containers: [{name: c, image: busybox}]\n  nodeSelector:\n    node-provider: ${provider}\n`;
}

// Each case starts a Node process; on a busy 2-core machine that can take seconds.
describe('anex offers (subprocess)', { timeout: 30_000 }, () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('ranks the saved Vast response for the seed example pod', () => {
    const out = json('offers', '--pod', VAST_POD, '--offers', VAST_OFFERS);
    // By hand from the fixture: europe, 2x RTX 4090/3090, >= 8 cores, >= 32768 MB RAM,
    // <= $1.50/h, >= 1000 Mbps down, verified, datacenter. 9800123 and 41000555 tie at
    // $0.9512: numeric id order puts 9800123 first. 41004410 sits exactly on every bound.
    expect(out.candidates.map((c: { offerId: string }) => c.offerId)).toEqual([
      '41002233',
      '9800123',
      '41000555',
      '41005120',
      '41003007',
      '41001780',
      '41004102',
      '41004410',
    ]);
    expect(out).toMatchObject({ provider: 'vastai', total: 34, matched: 8, diskToAllocateGb: 20 });
    expect(out.candidates[0]).toMatchObject({
      offerId: '41002233',
      machineId: '30820',
      gpuName: 'RTX 3090',
      gpuCount: 2,
      pricePerHour: 0.8824,
      region: 'europe',
    });
    expect(out.funnel).toEqual([
      { filter: 'region', remaining: 22 },
      { filter: 'gpu-names', remaining: 17 },
      { filter: 'gpu-count', remaining: 16 },
      { filter: 'vram', remaining: 16 },
      { filter: 'cpu', remaining: 15 },
      { filter: 'ram', remaining: 14 },
      { filter: 'price', remaining: 13 },
      { filter: 'download-speed', remaining: 11 },
      { filter: 'verified-only', remaining: 9 },
      { filter: 'datacenter-only', remaining: 8 },
    ]);
    expect(out.nearMiss).toMatchObject({
      offer: { offerId: '41000999', pricePerHour: 0.4412 },
      filter: 'download-speed',
      reason: 'download-speed 920 Mbps < download-speed-min 1000 Mbps',
    });
  });

  it('ranks the saved RunPod catalog for the seed example pod', () => {
    const out = json('offers', '--pod', RUNPOD_POD, '--offers', RUNPOD_DCS, '--offers', RUNPOD_GPUS);
    // europe + SECURE + 2 GPUs: RTX 3090 at 2 x $0.46 in EU-CZ-1 and EUR-IS-1, RTX 4090 at
    // 2 x $0.69 in EU-CZ-1, EU-RO-1, EU-SE-1; equal prices by offer id.
    expect(out.candidates.map((c: { offerId: string }) => c.offerId)).toEqual([
      'NVIDIA GeForce RTX 3090|SECURE|EU-CZ-1|2',
      'NVIDIA GeForce RTX 3090|SECURE|EUR-IS-1|2',
      'NVIDIA GeForce RTX 4090|SECURE|EU-CZ-1|2',
      'NVIDIA GeForce RTX 4090|SECURE|EU-RO-1|2',
      'NVIDIA GeForce RTX 4090|SECURE|EU-SE-1|2',
    ]);
    expect(out.candidates.map((c: { pricePerHour: number }) => c.pricePerHour)).toEqual([
      0.92, 0.92, 1.38, 1.38, 1.38,
    ]);
    expect(out).toMatchObject({ provider: 'runpod', total: 240, matched: 5 });
    expect(out.nearMiss).toMatchObject({
      offer: { offerId: 'NVIDIA GeForce RTX 3090|COMMUNITY|EU-CZ-1|2', pricePerHour: 0.44 },
      filter: 'cloud-type',
      reason: 'cloud COMMUNITY not in SECURE',
    });
  });

  it('skips a banned machine while the ban is in force, and not after', () => {
    const bans = writeScratch(
      'bans.json',
      JSON.stringify([{ provider: 'vastai', machineId: '30820', expiresAt: '2026-11-26T13:00:00Z' }]),
    );
    const at = (now: string) =>
      json('offers', '--pod', VAST_POD, '--offers', VAST_OFFERS, '--bans', bans, '--now', now);
    const during = at('2026-11-26T12:59:59Z');
    const after = at('2026-11-26T13:00:00Z');
    expect(during.candidates[0].offerId).toBe('9800123');
    expect(during.funnel[0]).toEqual({ filter: 'bans', remaining: 33 });
    expect(after.candidates[0].offerId).toBe('41002233');
  });

  it('honours --limit and --provider', () => {
    const out = json('offers', '--pod', VAST_POD, '--offers', VAST_OFFERS, '--limit', '2');
    expect(out.candidates).toHaveLength(2);
    expect(out.matched).toBe(8);
    const pod = writeScratch(
      'runpod-as-vast.yaml',
      podWith({ 'anex.sh/gpu-names': 'RTX 3090', 'anex.sh/gpu-count': '2' }, 'runpod'),
    );
    const asVast = json('offers', '--pod', pod, '--provider', 'vastai', '--offers', VAST_OFFERS);
    expect(asVast.provider).toBe('vastai');
  });

  it('prints a table for people', () => {
    const run = anex('offers', '--pod', VAST_POD, '--offers', VAST_OFFERS);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('vastai: 8 of 34 offers match; disk to allocate 20 GB');
    expect(lines[2]).toMatch(/^#\s+OFFER\s+GPU\s+VRAM\/GPU\s+PRICE\s+REGION\s+MACHINE\s+LOCATION$/);
    expect(lines[3]).toMatch(
      /^1\s+41002233\s+2x RTX 3090\s+24576 MB\s+\$0\.8824\/h\s+europe\s+30820\s+Stockholm, SE$/,
    );
    expect(lines[2]?.indexOf('PRICE')).toBe(lines[3]?.indexOf('$'));
    expect(run.stdout).toContain('$1.50/h');
    expect(run.stdout).toContain('Nearest miss: 41000999 (2x RTX 3090, $0.4412/h) fails download-speed');
  });

  it('exits 0 with no candidates when nothing matches', () => {
    const pod = writeScratch(
      'africa.yaml',
      podWith({ 'anex.sh/region': 'africa', 'anex.sh/gpu-names': 'H100 SXM' }),
    );
    const out = json('offers', '--pod', pod, '--offers', VAST_OFFERS);
    expect(out.matched).toBe(0);
    expect(out.candidates).toEqual([]);
  });

  it('exits 2 with every annotation error on stderr', () => {
    const pod = writeScratch(
      'bad.yaml',
      podWith({
        'anex.sh/vram-min': '20GB',
        'anex.sh/regoin': 'europe',
        'vastai.anex.sh/verified-only': 'yes',
      }),
    );
    const run = anex('offers', '--pod', pod, '--offers', VAST_OFFERS);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      [
        `anex: pod file ${pod}: invalid annotations:`,
        '  anex.sh/regoin: unknown annotation; did you mean anex.sh/region?',
        '  anex.sh/vram-min: "20GB" is not a number of megabytes (e.g. "20480")',
        '  vastai.anex.sh/verified-only: "yes" is not a boolean; expected "true" or "false"',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [
      ['--pod', 'missing.yaml', '--offers', VAST_OFFERS],
      'anex: pod file missing.yaml: cannot read it (no such file)',
    ],
    [
      ['--pod', VAST_POD, '--offers', 'missing.json'],
      'anex: offers file missing.json: cannot read it (no such file)',
    ],
    [
      ['--pod', VAST_POD, '--offers', RUNPOD_GPUS],
      `anex: offers file ${RUNPOD_GPUS}: a runpod-gpus response, but the pod's provider is vastai`,
    ],
    [
      ['--pod', VAST_POD, '--offers', VAST_POD],
      `anex: offers file ${VAST_POD}: not a saved provider response`,
    ],
    [
      ['--pod', VAST_POD, '--offers', VAST_OFFERS, '--now', 'yesterday'],
      'anex: --now: "yesterday" is not an RFC 3339 time',
    ],
  ])('exits 2 naming the bad input: %j', (args, message) => {
    const run = anex('offers', ...args);
    expect(run.code).toBe(2);
    expect(run.stderr.startsWith(message)).toBe(true);
  });

  it('exits 2 on a bans file of the wrong shape', () => {
    const bans = writeScratch('bad-bans.json', JSON.stringify([{ machineId: '1' }]));
    const run = anex('offers', '--pod', VAST_POD, '--offers', VAST_OFFERS, '--bans', bans);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`bans file ${bans}: 0.provider:`);
  });

  it('without --offers and without an API key, fails saying how to get offers', () => {
    const run = anex('offers', '--pod', VAST_POD);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--offers <file>');
  });

  it('has help', () => {
    const run = anex('offers', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--offers <file>');
    expect(run.stdout).toContain('Exit codes: 0 ok (also when nothing matches)');
  });
});
