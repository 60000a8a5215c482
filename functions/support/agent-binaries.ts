import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { InvalidInputError } from '../../lib/errors.ts';
import type { TunnelSettings } from '../../lib/tunnel/endpoint/types.ts';
import { type Arch, type BinaryPin, WSTUNNEL_PIN } from '../../lib/tunnel/pins.ts';
import { type BuildManifest, parseBuildManifest, selfBuiltPin } from '../../lib/tunnel/self-built.ts';
import { FUNCTION_ENV } from './env.ts';

/**
 * Where the stack uploaded the self-built wireproxy (infra/constructs/agent-binaries.ts):
 * the bucket, each architecture's object key, and the build's manifest (checksums).
 */
export interface StoredBinaries {
  bucket: string;
  keys: Readonly<Record<Arch, string>>;
  manifest: BuildManifest;
}

/** Signs a GET of one object; the real one is {@link s3Signer}. */
export type ObjectSigner = (bucket: string, key: string) => Promise<string>;

/** Presigned URLs live this long: the agent downloads right after its bootstrap. */
export const SIGNED_URL_SECONDS = 900;

const stored = z.strictObject({
  bucket: z.string().min(3),
  keys: z.strictObject({ amd64: z.string().min(1), arm64: z.string().min(1) }),
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
      `${name}: not JSON (set by the stack: {"bucket","keys":{"amd64","arm64"},"manifest"})`,
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
 * Pins for one bootstrap: wireproxy at freshly presigned URLs (signing is local and cheap, so
 * both architectures are signed) with the build's checksums; wstunnel as given (operator's or
 * shipped).
 */
export function storedBinaryPins(
  binaries: StoredBinaries,
  sign: ObjectSigner,
  wstunnel: BinaryPin = WSTUNNEL_PIN,
): () => Promise<TunnelSettings['binaries']> {
  return async () => {
    const [amd64, arm64] = await Promise.all([
      sign(binaries.bucket, binaries.keys.amd64),
      sign(binaries.bucket, binaries.keys.arm64),
    ]);
    const pin = selfBuiltPin(binaries.manifest, (arch) => (arch === 'amd64' ? amd64 : arm64));
    return { wireproxy: pin, wstunnel };
  };
}

/** Signs with the function role's credentials; local computation, no API call. */
export function s3Signer(client: S3Client = new S3Client({})): ObjectSigner {
  return (bucket, key) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: SIGNED_URL_SECONDS,
    });
}
