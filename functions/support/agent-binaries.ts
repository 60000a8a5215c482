import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { InvalidInputError } from '../../lib/errors.ts';
import type { AgentArtifact } from '../../lib/tunnel/agent/stub.ts';
import type { AgentDownload } from '../../lib/tunnel/endpoint/agent-download.ts';
import type { TunnelSettings } from '../../lib/tunnel/endpoint/types.ts';
import type { Arch, BinaryPin } from '../../lib/tunnel/pins.ts';
import {
  type BuildManifest,
  type BuiltName,
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
  keys: Readonly<Record<BuiltName, Readonly<Record<Arch, string>>>>;
  manifest: BuildManifest;
}

/** Signs a GET of one object; the real one is {@link s3Signer}. */
export type ObjectSigner = (bucket: string, key: string) => Promise<string>;

/** Presigned URLs live this long: the agent downloads right after its bootstrap. */
export const SIGNED_URL_SECONDS = 900;

const archKeys = z.strictObject({ amd64: z.string().min(1), arm64: z.string().min(1) });
const stored = z.strictObject({
  bucket: z.string().min(3),
  keys: z.strictObject({ agent: archKeys, wireproxy: archKeys, wstunnel: archKeys }),
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
  const data = stackJson(
    env,
    name,
    '{"bucket","keys":{"agent":{"amd64","arm64"},"wireproxy":{…},"wstunnel":{…}},"manifest"}',
    stored,
  );
  if (data === undefined) return undefined;
  return {
    bucket: data.bucket,
    keys: data.keys,
    manifest: parseBuildManifest(JSON.stringify(data.manifest), `${name}.manifest`),
  };
}

/**
 * A JSON variable the stack sets, checked against `schema`; undefined when unset.
 * @throws InvalidInputError naming the variable, the expected form and every problem
 */
function stackJson<T>(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  form: string,
  schema: z.ZodType<T>,
): T | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInputError([`${name}: not JSON (set by the stack: ${form})`]);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidInputError([`${name}: ${problems.join('; ')}`]);
  }
  return result.data;
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

/** Where `GET /v1/agent/<arch>` redirects: the stack's agent binary at a freshly presigned URL. */
export function storedAgentDownload(binaries: StoredBinaries, sign: ObjectSigner): AgentDownload {
  return (arch) => sign(binaries.bucket, binaries.keys.agent[arch]);
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256');
const agentSums = z.strictObject({ amd64: sha256, arm64: sha256 });

/**
 * The agent the launch stub pins (FUNCTION_ENV.agentSha256, set by the stack), or undefined
 * when unset (then instances launch without the agent: plain launch).
 * @throws InvalidInputError naming the variable when it is malformed
 */
export function agentArtifactFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): AgentArtifact | undefined {
  const sums = stackJson(env, FUNCTION_ENV.agentSha256, '{"amd64":"<sha256>","arm64":"<sha256>"}', agentSums);
  return sums === undefined ? undefined : { sha256: sums, run: 'exec' };
}

/** Signs with the function role's credentials; local computation, no API call. */
export function s3Signer(client: S3Client = new S3Client({})): ObjectSigner {
  return (bucket, key) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: SIGNED_URL_SECONDS,
    });
}
