import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnexError } from '../../errors.ts';
import { createProcessScope, type ProcessScope, waitUntil } from '../../local/control-plane/processes.ts';
import { SIM_IMAGES, type SimImage } from '../common/images.ts';

/** The registry of the simulated marketplace: a real OCI distribution server (main.go). */
export interface SimRegistry {
  /** base URL (`http://127.0.0.1:<port>`); images live under `/v2/<registry host>/<path>/…` */
  readonly url: string;
  stop(): Promise<void>;
}

const MODULE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Builds sim-registry (cached per source hash and Go version under
 * `${XDG_CACHE_HOME:-~/.cache}/anex/sim-registry/`) and starts it with `images` pushed, on a
 * free loopback port. The process dies with this one (a process scope's reaper).
 * @throws AnexError `unavailable` when Go or the module proxy is missing, or it does not start
 */
export async function startSimRegistry(images: readonly SimImage[] = SIM_IMAGES): Promise<SimRegistry> {
  const binary = buildSimRegistry();
  const scope: ProcessScope = createProcessScope('anex-sim-registry');
  const file = join(scope.dir, 'images.json');
  writeFileSync(file, JSON.stringify(images));
  const child = scope.spawn({ name: 'sim-registry', command: binary, args: ['--images', file] });
  let url = '';
  try {
    await waitUntil(
      async () => {
        const match = /listening on (http:\/\/\S+)/.exec(child.logTail(5));
        url = match?.[1] ?? '';
        return url !== '' || !child.isRunning();
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'sim-registry to listen' },
    );
  } catch (error) {
    await scope.close();
    throw new AnexError(`sim-registry did not start: ${child.logTail(10)}`, {
      kind: 'unavailable',
      cause: error,
    });
  }
  if (url === '') {
    const log = child.logTail(10);
    await scope.close();
    throw new AnexError(`sim-registry exited at start: ${log}`, { kind: 'unavailable' });
  }
  return { url, stop: () => scope.close() };
}

/** The sim-registry binary for this host, built on first use. */
export function buildSimRegistry(): string {
  const goVersion = run('go', ['env', 'GOVERSION']).trim();
  const dir = join(cacheRoot(), `${sourceHash()}-${goVersion}`);
  const binary = join(dir, 'sim-registry');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  process.stderr.write(`[sim-registry] building with ${goVersion} (first run only)...\n`);
  run('go', ['build', '-trimpath', '-o', partial, '.'], { CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' });
  renameSync(partial, binary);
  return binary;
}

function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'anex', 'sim-registry');
}

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(MODULE).sort()) {
    if (/\.go$|^go\.(mod|sum)$/.test(name) && !name.endsWith('_test.go')) {
      hash.update(`${name}\n`).update(readFileSync(join(MODULE, name)));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

function run(command: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, {
      cwd: MODULE,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new AnexError(
      `${command} ${args.join(' ')} failed in ${MODULE} (needs Go >= 1.26 and the Go module proxy or a warm module cache): ${stderr.trim().slice(-500)}`,
      { kind: 'unavailable', cause: error },
    );
  }
}
