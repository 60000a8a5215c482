import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AnexError, InvalidInputError } from '../errors.ts';
import type { Arch, BinaryPin } from './pins.ts';

/**
 * The manifest lib/tunnel/wireproxy-build/build.sh writes next to the binaries it builds:
 * the checksums are computed from the build itself, so whoever serves these files (the local
 * agent endpoint, an S3 bucket) pins exactly what was built.
 */
export interface BuildManifest {
  name: 'wireproxy';
  /** e.g. v1.0.9-anex1: the upstream tag and anex's build revision */
  version: string;
  goVersion: string;
  source: string;
  assets: Readonly<Record<Arch, { file: string; sha256: string; format: 'binary' }>>;
}

const asset = z.strictObject({
  file: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256'),
  format: z.literal('binary'),
});
const manifest = z.strictObject({
  name: z.literal('wireproxy'),
  version: z.string().min(1),
  goVersion: z.string().min(1),
  source: z.string().min(1),
  assets: z.strictObject({ amd64: asset, arm64: asset }),
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

/** The pin agents get for a self-built set, each asset downloaded from `urlFor(arch)`. */
export function selfBuiltPin(built: BuildManifest, urlFor: (arch: Arch) => string): BinaryPin {
  const of = (arch: Arch) => ({
    url: urlFor(arch),
    sha256: built.assets[arch].sha256,
    format: built.assets[arch].format,
  });
  return {
    name: built.name,
    version: built.version,
    source: `${built.source}, ${built.goVersion}`,
    assets: { amd64: of('amd64'), arm64: of('arm64') },
  };
}

/** Absolute path of each architecture's file in the build directory. */
export function builtFiles(dir: string, built: BuildManifest): Record<Arch, string> {
  return { amd64: join(dir, built.assets.amd64.file), arm64: join(dir, built.assets.arm64.file) };
}

const BUILD_SCRIPT = fileURLToPath(new URL('./wireproxy-build/build.sh', import.meta.url));

/**
 * Builds anex's wireproxy for both architectures (or finds it in the cache: build.sh skips
 * work when its output is present) and reads the build's manifest. Progress goes to stderr.
 * @throws AnexError `unavailable` when the build fails (no Go ≥ 1.24, no module proxy).
 */
export function buildSelfBuiltWireproxy(): { dir: string; manifest: BuildManifest } {
  let dir: string;
  try {
    const output = execFileSync('bash', [BUILD_SCRIPT], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    dir = output.trim().split('\n').at(-1) ?? '';
  } catch (error) {
    throw new AnexError(
      `building wireproxy for agents failed (${BUILD_SCRIPT}; needs Go >= 1.24 and the Go module proxy or a warm module cache)`,
      { kind: 'unavailable', cause: error },
    );
  }
  const where = join(dir, 'manifest.json');
  return { dir, manifest: parseBuildManifest(readFileSync(where, 'utf8'), where) };
}
