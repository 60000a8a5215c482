import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestGroundError } from './errors.ts';

/**
 * The real anex-kubelet (ADR 0023), built for this machine by its product build script
 * (lib/tunnel/gateway/kubelet/build.sh, cached under ~/.cache/anex/kubelet/). Built on first
 * use; a failed build fails the test loudly.
 */
const BUILD_SCRIPT = fileURLToPath(new URL('../../lib/tunnel/gateway/kubelet/build.sh', import.meta.url));

let cached: string | undefined;

export function anexKubeletBinary(): string {
  if (cached !== undefined) return cached;
  let output: string;
  try {
    output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 900_000,
    });
  } catch (error) {
    throw new TestGroundError('anex-kubelet', `${BUILD_SCRIPT} failed; is Go installed?`, { cause: error });
  }
  const binary = join(output.trim().split('\n').at(-1) ?? '', 'anex-kubelet');
  if (!existsSync(binary))
    throw new TestGroundError(
      'anex-kubelet',
      `build.sh reported a directory without anex-kubelet (${binary})`,
    );
  cached = binary;
  return binary;
}
