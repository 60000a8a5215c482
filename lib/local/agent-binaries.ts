import { AnexError } from '../errors.ts';
import type { AgentArtifact } from '../tunnel/agent/stub.ts';
import type { AgentDownload } from '../tunnel/endpoint/agent-download.ts';
import type { BinaryFiles } from '../tunnel/endpoint/binaries.ts';
import { binaryPath } from '../tunnel/endpoint/binaries.ts';
import type { TunnelSettings } from '../tunnel/endpoint/types.ts';
import {
  buildSelfBuiltBinaries,
  builtAgentArtifact,
  builtFiles,
  describeBuild,
  selfBuiltPin,
} from '../tunnel/self-built.ts';

/** Self-built agent binaries as local mode serves them: the pins agents get and the files behind them. */
export interface ServedBinaries {
  pins: TunnelSettings['binaries'];
  /** the agent binary the launch stub pins, and where `/v1/agent/<arch>` sends it */
  agent: { artifact: AgentArtifact; download: AgentDownload };
  files: BinaryFiles;
  /** one line for the startup log */
  summary: string;
}

/**
 * Builds (or finds in the cache) anex's agent, wireproxy and wstunnel with
 * lib/tunnel/agent-build/build.sh — progress on this process's stderr, a first build takes a
 * minute or two — and pins them at this endpoint's `/v1/binaries/<name>/<arch>` with the
 * checksums the build computed.
 * @throws AnexError (`unavailable`) when the build fails (Go missing, module proxy unreachable)
 */
export function selfServedBinaries(agentUrl: string): ServedBinaries {
  const { dir, manifest: built } = build();
  const base = agentUrl.replace(/\/+$/, '');
  const pin = (name: 'wireproxy' | 'wstunnel') =>
    selfBuiltPin(built, name, (arch) => `${base}${binaryPath(name, arch)}`);
  return {
    pins: { wireproxy: pin('wireproxy'), wstunnel: pin('wstunnel') },
    agent: {
      artifact: builtAgentArtifact(built),
      download: async (arch) => `${base}${binaryPath('agent', arch)}`,
    },
    files: builtFiles(dir, built),
    summary: `${describeBuild(dir, built)}, served at ${base}/v1/binaries/<name>/<arch>`,
  };
}

function build(): ReturnType<typeof buildSelfBuiltBinaries> {
  try {
    return buildSelfBuiltBinaries();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AnexError(`${reason}. Set ANEX_AGENT_BINARIES to pins of binaries you host instead`, {
      kind: 'unavailable',
      cause: error,
    });
  }
}
