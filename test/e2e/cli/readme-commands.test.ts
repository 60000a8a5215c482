import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedMarket, startSimulatedMarket } from '../../../lib/local/simulated-market.ts';
import { REPO, runCli } from './cli-process.ts';

/**
 * Every command in the README's ```sh blocks is exercised: run here in a non-destructive
 * form, or by the named test / CI file, which must contain the given text. A README command
 * missing from this table fails the test, so the README cannot drift from what is tested.
 */
interface Exercise {
  /** anex arguments run here (with the simulated marketplace's env and a temp data dir) */
  run?: readonly string[];
  /** what the run must print on stdout */
  expect?: RegExp;
  /** or: the file that exercises it for real, and a text proving it does */
  by?: { file: string; contains: string };
}

const EXERCISED: Readonly<Record<string, Exercise>> = {
  'npm ci && npm run demo': { by: { file: 'test/e2e/cli/demo.test.ts', contains: "startCli(['demo'" } },
  'npm ci && npm test': { by: { file: '.ci/run', contains: 'npm ci\nnpm test' } },
  'npx anex offers --pod examples/seed-pod.yaml': {
    run: ['offers', '--pod', 'examples/seed-pod.yaml'],
    expect: /^vastai: [1-9]\d* of \d+ offers match/m,
  },
  'VAST_API_KEY=... npx anex run': {
    by: { file: 'test/e2e/cli/run.test.ts', contains: "'run', '--kubeconfig'" },
  },
  'npx anex run --simulate': {
    by: { file: 'test/e2e/cli/run.test.ts', contains: "'run',\n      '--simulate'," },
  },
  'npx anex sim': { by: { file: 'test/e2e/cli/run.test.ts', contains: "cli(['sim'" } },
  'npx anex status': { by: { file: 'test/e2e/cli/run.test.ts', contains: "['status', '--kubeconfig'" } },
  'npx anex bans list': { run: ['bans', 'list'], expect: /^no bans in force$/m },
  'npx anex explain default/my-gpu-workload': {
    by: { file: 'test/e2e/cli/explain.test.ts', contains: '/my-gpu-workload`, ...kubeconfig]' },
  },
};

function readmeCommands(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks.flatMap((b) => b.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')));
}

/** The anex subcommand a README line runs, e.g. "bans" for `npx anex bans list`. */
function subcommand(line: string): string | undefined {
  return /npx anex ([a-z]+)/.exec(line)?.[1];
}

let market: SimulatedMarket;
let dataDir: string;

beforeAll(async () => {
  market = await startSimulatedMarket();
  dataDir = await mkdtemp(join(tmpdir(), 'anex-readme-'));
});

afterAll(async () => {
  await market.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('README commands', () => {
  const commands = readmeCommands();

  it('starts with the two set-up commands, exactly', () => {
    expect(commands.slice(0, 2)).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
  });

  it('every README command is in the table of exercised commands', () => {
    expect(commands.filter((c) => EXERCISED[c] === undefined)).toEqual([]);
  });

  it('npm run demo and npx anex run the CLI that the tests run', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.bin.anex).toBe('bin/anex.js');
    expect(pkg.scripts.demo).toBe('node bin/anex.js demo');
    expect(pkg.scripts.test).toBe('vitest run');
  });

  it.each(commands.filter((c) => EXERCISED[c]?.by !== undefined))(
    '%s is exercised by its test',
    (command) => {
      const by = EXERCISED[command]?.by as { file: string; contains: string };
      expect(readFileSync(join(REPO, by.file), 'utf8')).toContain(by.contains);
    },
  );

  it.each(commands.filter((c) => EXERCISED[c]?.run !== undefined))('%s runs', async (command) => {
    const exercise = EXERCISED[command] as Exercise;
    const env = {
      VAST_API_KEY: market.endpoints.vastai.apiKey,
      VAST_API_URL: market.endpoints.vastai.baseUrl,
      XDG_DATA_HOME: dataDir,
    };
    const result = await runCli(exercise.run ?? [], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(exercise.expect ?? /./);
  });

  it.each([...new Set([...commands.map(subcommand).filter((s) => s !== undefined), 'demo'])])(
    'anex %s --help documents the command and its exit codes',
    async (name) => {
      const result = await runCli([name, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: anex ${name}`);
      expect(result.stdout).toMatch(/Exit codes: 0/);
    },
  );
});
