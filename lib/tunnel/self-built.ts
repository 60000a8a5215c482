import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
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
