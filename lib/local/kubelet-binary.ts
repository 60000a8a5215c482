import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnexError } from '../errors.ts';

/** The product build script of anex-kubelet (ADR 0023); cached under ~/.cache/anex/kubelet/. */
export const KUBELET_BUILD_SCRIPT = fileURLToPath(
  new URL('../tunnel/gateway/kubelet/build.sh', import.meta.url),
);

let built: string | undefined;

/**
 * anex-kubelet for this machine: lib/tunnel/gateway/kubelet/build.sh builds it once (progress
 * on this process's stderr, a first build takes a minute or two) and reuses the cache while
 * its sources are unchanged. Synchronous like the agent's build (lib/local/agent-binaries.ts):
 * Ctrl-C reaches the build, which is in this process's group.
 * @returns the binary's absolute path
 * @throws AnexError (`unavailable`) when the build fails (Go missing, module proxy unreachable)
 */
export function anexKubeletBinary(): string {
  if (built !== undefined) return built;
  let output: string;
  try {
    output = execFileSync('bash', [KUBELET_BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 900_000,
    });
  } catch (error) {
    throw new AnexError(
      `building anex-kubelet failed (${KUBELET_BUILD_SCRIPT}; needs Go >= 1.24 and the Go module proxy or a warm module cache)`,
      { kind: 'unavailable', cause: error },
    );
  }
  const binary = join(output.trim().split('\n').at(-1) ?? '', 'anex-kubelet');
  if (!existsSync(binary)) {
    throw new AnexError(`${KUBELET_BUILD_SCRIPT} reported a directory without anex-kubelet (${binary})`, {
      kind: 'internal',
    });
  }
  built = binary;
  return binary;
}
