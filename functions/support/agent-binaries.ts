import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { InvalidInputError } from '../../lib/errors.ts';
import type { TunnelSettings } from '../../lib/tunnel/endpoint/types.ts';
import type { Arch, BinaryPin } from '../../lib/tunnel/pins.ts';
import {
  type BuildManifest,
  parseBuildManifest,
  type SelfBuiltName,
  selfBuiltPin,
} from '../../lib/tunnel/self-built.ts';
import { FUNCTION_ENV } from './env.ts';

/**
 * Where the stack uploaded the self-built agent binaries (infra/constructs/agent-binaries.ts):
 * the bucket, each binary's object key per architecture, and the build's manifest (checksums).
 */
export interface StoredBinaries {
  bucket: string;
  keys: Readonly<Record<SelfBuiltName, Readonly<Record<Arch, string>>>>;
  manifest: BuildManifest;
}

/** Signs a GET of one object; the real one is {@link s3Signer}. */
export type ObjectSigner = (bucket: string, key: string) => Promise<string>;

/** Presigned URLs live this long: the agent downloads right after its bootstrap. */
export const SIGNED_URL_SECONDS = 900;

const archKeys = z.strictObject({ amd64: z.string().min(1), arm64: z.string().min(1) });
const stored = z.strictObject({
  bucket: z.string().min(3),
  keys: z.strictObject({ wireproxy: archKeys, wstunnel: archKeys }),
  manifest: z.unknown(),
});

/**
 * The stack's ANEX_AGENT_BINARIES_S3, or undefined when unset (then the shipped or
 * operator pins apply). @throws InvalidInputError naming the variable when it is malformed.
 */
export function storedBinariesFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): StoredBinaries | undefined {
  const name = FUNCTION_ENV.agentBinaries;
  const text = env[name]?.trim();
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInputError([
      `${name}: not JSON (set by the stack: {"bucket","keys":{"wireproxy":{"amd64","arm64"},"wstunnel":{…}},"manifest"})`,
    ]);
  }
  const result = stored.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new InvalidInputError([`${name}: ${problems.join('; ')}`]);
  }
  const { bucket, keys } = result.data;
  return {
    bucket,
    keys,
    manifest: parseBuildManifest(JSON.stringify(result.data.manifest), `${name}.manifest`),
  };
}

/**
 * Pins for one bootstrap: each self-built binary at freshly presigned URLs (signing is local
 * and cheap, so every architecture is signed) with the build's checksums — except the binaries
 * the operator pinned (ANEX_AGENT_BINARIES), which are handed out as given.
 */
export function storedBinaryPins(
  binaries: StoredBinaries,
  sign: ObjectSigner,
  operator: Partial<Record<SelfBuiltName, BinaryPin>> = {},
): () => Promise<TunnelSettings['binaries']> {
  const signed = async (name: SelfBuiltName): Promise<BinaryPin> => {
    const given = operator[name];
    if (given !== undefined) return given;
    const keys = binaries.keys[name];
    const [amd64, arm64] = await Promise.all([
      sign(binaries.bucket, keys.amd64),
      sign(binaries.bucket, keys.arm64),
    ]);
    return selfBuiltPin(binaries.manifest, name, (arch) => (arch === 'amd64' ? amd64 : arm64));
  };
  return async () => {
    const [wireproxy, wstunnel] = await Promise.all([signed('wireproxy'), signed('wstunnel')]);
    return { wireproxy, wstunnel };
  };
}

/** Signs with the function role's credentials; local computation, no API call. */
export function s3Signer(client: S3Client = new S3Client({})): ObjectSigner {
  return (bucket, key) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: SIGNED_URL_SECONDS,
    });
}
