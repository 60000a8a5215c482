import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AnexError, InvalidInputError } from '../errors.ts';
import type { AgentArtifact } from './agent/stub.ts';
import type { Arch, BinaryPin } from './pins.ts';

/** The helpers lib/tunnel/agent-build/build.sh builds for agents (downloaded at bootstrap). */
export const SELF_BUILT = ['wireproxy', 'wstunnel'] as const;
export type SelfBuiltName = (typeof SELF_BUILT)[number];
/** Everything build.sh builds: the agent itself (what the launch stub fetches) and its helpers. */
export const BUILT = ['agent', ...SELF_BUILT] as const;
export type BuiltName = (typeof BUILT)[number];

/** One binary of a build, both architectures. */
export interface BuiltBinary {
  /** e.g. v1.0.9-anex1 (upstream tag + anex build revision) or 10.6.2-anex.1 */
  version: string;
  source: string;
  assets: Readonly<Record<Arch, { file: string; sha256: string; format: 'binary' }>>;
}

/**
 * The manifest lib/tunnel/agent-build/build.sh writes next to the binaries it builds: the
 * checksums are computed from the build itself, so whoever serves these files (the local
 * agent endpoint, an S3 bucket) pins exactly what was built.
 */
export interface BuildManifest {
  goVersion: string;
  binaries: Readonly<Record<BuiltName, BuiltBinary>>;
}

const asset = z.strictObject({
  file: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256'),
  format: z.literal('binary'),
});
const binary = z.strictObject({
  version: z.string().min(1),
  source: z.string().min(1),
  assets: z.strictObject({ amd64: asset, arm64: asset }),
});
const manifest = z.strictObject({
  goVersion: z.string().min(1),
  binaries: z.strictObject({ agent: binary, wireproxy: binary, wstunnel: binary }),
});

/** @throws InvalidInputError naming `where` and the problems when the text is not a manifest */
export function parseBuildManifest(text: string, where: string): BuildManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInputError([`${where}: not JSON (expected the manifest build.sh writes)`]);
  }
  const result = manifest.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidInputError([`${where}: ${problems.join('; ')}`]);
  }
  return result.data;
}

/** The pin agents get for one self-built binary, each asset downloaded from `urlFor(arch)`. */
export function selfBuiltPin(
  built: BuildManifest,
  name: SelfBuiltName,
  urlFor: (arch: Arch) => string,
): BinaryPin {
  const one = built.binaries[name];
  const of = (arch: Arch) => ({
    url: urlFor(arch),
    sha256: one.assets[arch].sha256,
    format: one.assets[arch].format,
  });
  return {
    name,
    version: one.version,
    source: `${one.source}, ${built.goVersion}`,
    assets: { amd64: of('amd64'), arm64: of('arm64') },
  };
}

/** Absolute path of each binary's file per architecture in the build directory. */
export function builtFiles(dir: string, built: BuildManifest): Record<BuiltName, Record<Arch, string>> {
  const of = (name: BuiltName) => ({
    amd64: join(dir, built.binaries[name].assets.amd64.file),
    arm64: join(dir, built.binaries[name].assets.arm64.file),
  });
  return { agent: of('agent'), wireproxy: of('wireproxy'), wstunnel: of('wstunnel') };
}

/** The agent of a build as the launch stub fetches it: a static binary, exec'd, checked per architecture. */
export function builtAgentArtifact(built: BuildManifest): AgentArtifact {
  const { assets } = built.binaries.agent;
  return { sha256: { amd64: assets.amd64.sha256, arm64: assets.arm64.sha256 }, run: 'exec' };
}

/** One line for startup logs: what was built, with which Go, where. */
export function describeBuild(dir: string, built: BuildManifest): string {
  const names = BUILT.map((name) => `${name} ${built.binaries[name].version}`).join(', ');
  return `${names} (${built.goVersion}) self-built in ${dir}`;
}

const BUILD_SCRIPT = fileURLToPath(new URL('./agent-build/build.sh', import.meta.url));

/**
 * Builds anex's agent binaries for both architectures (or finds them in the cache: build.sh
 * skips work when its output is present) and reads the build's manifest. Progress goes to stderr.
 * @throws AnexError `unavailable` when the build fails (no Go ≥ 1.24, no module proxy).
 */
export function buildSelfBuiltBinaries(): { dir: string; manifest: BuildManifest } {
  let dir: string;
  try {
    const output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    dir = output.trim().split('\n').at(-1) ?? '';
  } catch (error) {
    throw new AnexError(
      `building the agent binaries failed (${BUILD_SCRIPT}; needs Go >= 1.24 and the Go module proxy or a warm module cache)`,
      { kind: 'unavailable', cause: error },
    );
  }
  const where = join(dir, 'manifest.json');
  return { dir, manifest: parseBuildManifest(readFileSync(where, 'utf8'), where) };
}
