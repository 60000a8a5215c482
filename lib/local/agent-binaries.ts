import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnexError } from '../errors.ts';
import type { BinaryFiles } from '../tunnel/endpoint/binaries.ts';
import { binaryPath } from '../tunnel/endpoint/binaries.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import { WSTUNNEL_PIN } from '../tunnel/pins.ts';
import { builtFiles, parseBuildManifest, selfBuiltPin } from '../tunnel/self-built.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('../tunnel/wireproxy-build/build.sh', import.meta.url));

/** Self-built agent binaries as local mode serves them: the pins agents get and the files behind them. */
export interface ServedBinaries {
  pins: TunnelSettings['binaries'];
  files: BinaryFiles;
  /** one line for the startup log */
  summary: string;
}

/**
 * Builds (or finds in the cache) anex's wireproxy with lib/tunnel/wireproxy-build/build.sh —
 * progress on this process's stderr, a first build takes a minute or two — and pins it at this
 * endpoint's `/v1/binaries/wireproxy/<arch>` with the checksums the build computed. wstunnel
 * keeps its shipped pin (it is Rust; nothing here builds it), so wstunnel transport still
 * needs ANEX_AGENT_BINARIES.
 * @throws AnexError (`unavailable`) when the build fails (Go missing, module proxy unreachable)
 */
export function selfServedBinaries(agentUrl: string): ServedBinaries {
  const dir = buildWireproxy();
  const where = join(dir, 'manifest.json');
  const built = parseBuildManifest(readFileSync(where, 'utf8'), where);
  const base = agentUrl.replace(/\/+$/, '');
  return {
    pins: {
      wireproxy: selfBuiltPin(built, (arch) => `${base}${binaryPath('wireproxy', arch)}`),
      wstunnel: WSTUNNEL_PIN,
    },
    files: { wireproxy: builtFiles(dir, built) },
    summary: `wireproxy ${built.version} (${built.goVersion}) self-built in ${dir}, served at ${base}/v1/binaries/wireproxy/<arch>`,
  };
}

function buildWireproxy(): string {
  try {
    const output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return output.trim().split('\n').at(-1) ?? '';
  } catch (error) {
    throw new AnexError(
      `building wireproxy for agents failed (${BUILD_SCRIPT}; needs Go >= 1.24 and the Go module proxy). Set ANEX_AGENT_BINARIES to pins of binaries you host instead`,
      { kind: 'unavailable', cause: error },
    );
  }
}
