import { AnexError } from '../errors.ts';
import type { BinaryFiles } from '../tunnel/endpoint/binaries.ts';
import { binaryPath } from '../tunnel/endpoint/binaries.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import { WSTUNNEL_PIN } from '../tunnel/pins.ts';
import { buildSelfBuiltWireproxy, builtFiles, selfBuiltPin } from '../tunnel/self-built.ts';

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
  const { dir, manifest: built } = buildWireproxy();
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

function buildWireproxy(): ReturnType<typeof buildSelfBuiltWireproxy> {
  try {
    return buildSelfBuiltWireproxy();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AnexError(`${reason}. Set ANEX_AGENT_BINARIES to pins of binaries you host instead`, {
      kind: 'unavailable',
      cause: error,
    });
  }
}
