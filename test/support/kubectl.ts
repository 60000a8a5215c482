import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestGroundError } from './errors.ts';

/**
 * kubectl of the test control plane's Kubernetes version, built from the Go module proxy by
 * lib/local/control-plane/build/build.sh beside the control plane (cached under
 * ${XDG_CACHE_HOME:-~/.cache}/anex/control-plane; TEST_ASSET_KUBECTL / KUBEBUILDER_ASSETS
 * honoured). Built on first use; a failed build fails the test loudly.
 */
const BUILD_SCRIPT = fileURLToPath(new URL('../../lib/local/control-plane/build/build.sh', import.meta.url));

let cached: string | undefined;

export function kubectlBinary(): string {
  if (cached !== undefined) return cached;
  let output: string;
  try {
    // stderr is inherited: a first build prints progress lines.
    output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 1_800_000,
    });
  } catch (error) {
    throw new TestGroundError('kubectl', `${BUILD_SCRIPT} failed; is Go ≥ 1.24 installed?`, { cause: error });
  }
  const line = output.split('\n').find((l) => l.startsWith('kubectl='));
  const path = line?.slice('kubectl='.length) ?? '';
  if (!existsSync(path))
    throw new TestGroundError('kubectl', `build.sh reported ${JSON.stringify(path)}, which does not exist`);
  cached = path;
  return path;
}
