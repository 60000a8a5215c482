import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestGroundError } from './errors.ts';

/**
 * The real wireproxy, built from the Go module proxy by test/tunnel-tools/build.sh (cached
 * under ~/.cache/anex/tools/). Built on first use; a failed build fails the test loudly.
 */
const BUILD_SCRIPT = fileURLToPath(new URL('../tunnel-tools/build.sh', import.meta.url));

let cached: string | undefined;

export function wireproxyBinary(): string {
  if (cached !== undefined) return cached;
  let output: string;
  try {
    // stderr is inherited: a first build prints progress lines.
    output = execFileSync('sh', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 900_000,
    });
  } catch (error) {
    throw new TestGroundError(
      'wireproxy',
      `${BUILD_SCRIPT} failed; is Go ≥ 1.24 installed and the module proxy reachable?`,
      {
        cause: error,
      },
    );
  }
  const path = output.trim().split('\n').at(-1) ?? '';
  if (!existsSync(path))
    throw new TestGroundError('wireproxy', `build.sh reported ${JSON.stringify(path)}, which does not exist`);
  cached = path;
  return path;
}

/** Runs `wireproxy -n -c <path>` (parse only): ok plus everything it printed. */
export function wireproxyConfigTest(configPath: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(wireproxyBinary(), ['-n', '-c', configPath], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null && stdout.includes('Config OK'), output: `${stdout}${stderr}` });
    });
  });
}
