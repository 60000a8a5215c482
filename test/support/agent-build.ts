import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arch } from '../../lib/tunnel/pins.ts';
import { TestGroundError } from './errors.ts';

/**
 * The real wireproxy and wstunnel: the product build (lib/tunnel/agent-build/build.sh, cached
 * under ~/.cache/anex/agent-binaries/), the same binaries local mode serves to agents, for this
 * machine's architecture. Built on first use; a failed build fails the test loudly.
 */
const BUILD_SCRIPT = fileURLToPath(new URL('../../lib/tunnel/agent-build/build.sh', import.meta.url));

let cachedDir: string | undefined;

/** The build directory (both architectures and manifest.json). */
export function agentBuildDir(): string {
  if (cachedDir !== undefined) return cachedDir;
  let output: string;
  try {
    // stderr is inherited: a first build prints progress lines.
    output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 900_000,
    });
  } catch (error) {
    throw new TestGroundError(
      'agent binaries',
      `${BUILD_SCRIPT} failed; is Go ≥ 1.24 installed and the module proxy reachable?`,
      { cause: error },
    );
  }
  const dir = output.trim().split('\n').at(-1) ?? '';
  if (!existsSync(join(dir, 'manifest.json')))
    throw new TestGroundError(
      'agent binaries',
      `build.sh reported ${JSON.stringify(dir)}, which holds no manifest.json`,
    );
  cachedDir = dir;
  return dir;
}

/** This machine's architecture in Go's naming. */
export function hostArch(): Arch {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new TestGroundError('agent binaries', `no agent build for ${process.arch} (amd64 and arm64 only)`);
}

export function wireproxyBinary(): string {
  return join(agentBuildDir(), `wireproxy-linux-${hostArch()}`);
}

/** anex's wstunnel (client and server in one binary), as agents and the gateway run it. */
export function wstunnelBinary(): string {
  return join(agentBuildDir(), `wstunnel-linux-${hostArch()}`);
}

/** Runs `wireproxy -n -c <path>` (parse only): ok plus everything it printed. */
export function wireproxyConfigTest(configPath: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(wireproxyBinary(), ['-n', '-c', configPath], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null && stdout.includes('Config OK'), output: `${stdout}${stderr}` });
    });
  });
}
