import { createHash } from 'node:crypto';
import type { ImageConfig } from './config.ts';
import type { RegistryAuth } from './keyring.ts';
import { formatImageRef, type ImageRef } from './reference.ts';

/** What a registry said about one image for one architecture. */
export type ImageLookup =
  | { outcome: 'ok'; config: ImageConfig }
  /** `denied`: the registry answered 401/403 (missing or refused login), not 404 */
  | { outcome: 'not-found'; message: string; denied: boolean }
  | { outcome: 'no-platform'; message: string; available: readonly string[] }
  | { outcome: 'unavailable'; message: string };

export interface RegistryClientOptions {
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * A registry that holds every image under `<registry host>/<path>` (the simulated
   * marketplace's, lib/sim/registry), asked instead of the image's own registry.
   */
  mirror?: string;
  /** per request @default 15_000 */
  timeoutMs?: number;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Registries whose API host differs from the name users write. */
const API_HOST: Readonly<Record<string, string>> = { 'docker.io': 'registry-1.docker.io' };

interface PlatformEntry {
  digest?: unknown;
  platform?: { os?: unknown; architecture?: unknown };
}

/**
 * Reads image configs over the OCI distribution API (distribution-spec: GET
 * /v2/<name>/manifests/<reference>, GET /v2/<name>/blobs/<digest>), anonymously or with one
 * login: a 401 with a `Bearer` challenge is answered with a token from its realm (the Docker
 * token flow Docker Hub and GHCR use: anonymous, or bought with the login as Basic), a `Basic`
 * challenge with the login itself (a self-hosted registry). An index is narrowed to
 * linux/<arch>. Configs are cached per manifest digest (immutable) but only reached through
 * the manifest, which is asked every time with the caller's own login (tags move, and a
 * private image's config is never served to a lookup the registry refuses).
 *
 * Contract: never throws for an expected outcome; every blob is checked against its digest.
 */
export class RegistryClient {
  readonly #fetch: typeof fetch;
  readonly #mirror: string | undefined;
  readonly #timeoutMs: number;
  readonly #configs = new Map<string, ImageConfig>();
  /** per repository and login: the Bearer token bought, or `basic` (send the login itself) */
  readonly #grants = new Map<string, { bearer: string } | 'basic'>();

  constructor(options: RegistryClientOptions = {}) {
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#mirror = options.mirror?.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /**
   * `auth`: one login for the image's registry (from the pod's imagePullSecrets): sent as
   * Basic on a Basic challenge and on the token request of a Bearer one; never logged, never
   * kept beyond the token it buys (kept per repository and login identity, so one pod's login
   * never serves another pod's lookup).
   */
  async lookup(
    ref: ImageRef,
    arch: 'amd64' | 'arm64',
    signal?: AbortSignal,
    auth?: RegistryAuth,
  ): Promise<ImageLookup> {
    const name = formatImageRef(ref);
    try {
      const top = await this.#get(ref, `manifests/${ref.reference}`, MANIFEST_TYPES, signal, auth);
      if (top.status === 404 || top.status === 401 || top.status === 403) return notFound(name, top.status);
      if (!top.ok) return unavailable(name, `HTTP ${top.status}`);
      const manifest = (await top.json()) as Record<string, unknown>;
      const mediaType = String(manifest.mediaType ?? top.headers.get('content-type') ?? '');
      if (Array.isArray(manifest.manifests) || /index|list/.test(mediaType)) {
        return await this.#fromIndex(ref, name, manifest.manifests as PlatformEntry[], arch, signal, auth);
      }
      const digest = top.headers.get('docker-content-digest') ?? ref.reference;
      return await this.#fromManifest(ref, name, digest, manifest, arch, signal, auth);
    } catch (error) {
      if (signal?.aborted) throw error;
      return unavailable(name, (error as Error).message);
    }
  }

  async #fromIndex(
    ref: ImageRef,
    name: string,
    entries: PlatformEntry[] | undefined,
    arch: string,
    signal: AbortSignal | undefined,
    auth?: RegistryAuth,
  ): Promise<ImageLookup> {
    const platforms = (entries ?? []).filter((e) => typeof e.platform?.os === 'string');
    const match = platforms.find((e) => e.platform?.os === 'linux' && e.platform.architecture === arch);
    if (match === undefined || typeof match.digest !== 'string') {
      const available = platforms
        .map((e) => `${String(e.platform?.os)}/${String(e.platform?.architecture)}`)
        .filter((p) => p !== 'unknown/unknown');
      return noPlatform(name, arch, available);
    }
    const cached = this.#configs.get(match.digest);
    if (cached !== undefined) return { outcome: 'ok', config: cached };
    const response = await this.#get(ref, `manifests/${match.digest}`, MANIFEST_TYPES, signal, auth);
    if (!response.ok) return unavailable(name, `platform manifest: HTTP ${response.status}`);
    const body = Buffer.from(await response.arrayBuffer());
    if (!matchesDigest(body, match.digest))
      return unavailable(name, 'platform manifest does not match its digest');
    return this.#fromManifest(ref, name, match.digest, JSON.parse(body.toString('utf8')), arch, signal, auth);
  }

  async #fromManifest(
    ref: ImageRef,
    name: string,
    digest: string,
    manifest: Record<string, unknown>,
    arch: string,
    signal: AbortSignal | undefined,
    auth?: RegistryAuth,
  ): Promise<ImageLookup> {
    const cached = this.#configs.get(digest);
    if (cached !== undefined) return { outcome: 'ok', config: cached };
    const configDigest = (manifest.config as { digest?: unknown } | undefined)?.digest;
    if (typeof configDigest !== 'string')
      return unavailable(name, 'the manifest has no config (not an image?)');
    const response = await this.#get(ref, `blobs/${configDigest}`, '*/*', signal, auth);
    if (!response.ok) return unavailable(name, `config blob: HTTP ${response.status}`);
    const body = Buffer.from(await response.arrayBuffer());
    if (!matchesDigest(body, configDigest))
      return unavailable(name, 'the config blob does not match its digest');
    const file = JSON.parse(body.toString('utf8')) as {
      os?: string;
      architecture?: string;
      config?: {
        Entrypoint?: string[] | null;
        Cmd?: string[] | null;
        Env?: string[] | null;
        WorkingDir?: string;
      };
    };
    if (file.architecture !== arch || (file.os ?? 'linux') !== 'linux') {
      return noPlatform(name, arch, [`${file.os ?? 'linux'}/${file.architecture ?? 'unknown'}`]);
    }
    const config: ImageConfig = {
      digest,
      entrypoint: file.config?.Entrypoint ?? [],
      cmd: file.config?.Cmd ?? [],
      env: file.config?.Env ?? [],
      ...(file.config?.WorkingDir ? { workingDir: file.config.WorkingDir } : {}),
    };
    if (this.#configs.size >= 512) this.#configs.clear();
    this.#configs.set(digest, config);
    return { outcome: 'ok', config };
  }

  /**
   * GET, answering a 401 once: a Bearer challenge with a token from its realm (anonymous, or
   * with `auth` as Basic — the Docker token flow of Docker Hub and GHCR), a Basic challenge
   * with `auth` itself.
   */
  async #get(
    ref: ImageRef,
    path: string,
    accept: string,
    signal?: AbortSignal,
    auth?: RegistryAuth,
  ): Promise<Response> {
    const url = this.#mirror
      ? `${this.#mirror}/v2/${ref.registry}/${ref.repository}/${path}`
      : `https://${API_HOST[ref.registry] ?? ref.registry}/v2/${ref.repository}/${path}`;
    // Per repository and login (its identity names no secret): never shared across logins.
    const key = `${ref.registry}/${ref.repository}|${auth?.identity ?? ''}`;
    const send = (authorization?: string) =>
      this.#fetch(url, {
        headers: { accept, ...(authorization === undefined ? {} : { authorization }) },
        signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), ...(signal ? [signal] : [])]),
      });
    const granted = this.#grants.get(key);
    const first = await send(authorization(granted, auth));
    if (first.status !== 401) return first;
    const header = first.headers.get('www-authenticate') ?? '';
    if (/^Basic\b/i.test(header.trim())) {
      if (auth === undefined || granted === 'basic') return first;
      this.#grant(key, 'basic');
      return send(`Basic ${basic(auth)}`);
    }
    const challenge = parseBearer(header);
    if (challenge === undefined) return first;
    const token = await this.#token(challenge, signal, auth);
    if (token === undefined) return first;
    this.#grant(key, { bearer: token });
    return send(`Bearer ${token}`);
  }

  #grant(key: string, grant: { bearer: string } | 'basic'): void {
    if (this.#grants.size >= 512) this.#grants.clear();
    this.#grants.set(key, grant);
  }

  async #token(
    challenge: Record<string, string>,
    signal: AbortSignal | undefined,
    auth: RegistryAuth | undefined,
  ): Promise<string | undefined> {
    const realm = challenge.realm;
    if (realm === undefined || !/^https?:\/\//.test(realm)) return undefined;
    const url = new URL(realm);
    for (const key of ['service', 'scope'] as const) {
      if (challenge[key] !== undefined) url.searchParams.set(key, challenge[key]);
    }
    const response = await this.#fetch(url, {
      ...(auth === undefined ? {} : { headers: { authorization: `Basic ${basic(auth)}` } }),
      signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), ...(signal ? [signal] : [])]),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { token?: unknown; access_token?: unknown };
    const token = body.token ?? body.access_token;
    return typeof token === 'string' ? token : undefined;
  }
}

function authorization(
  granted: { bearer: string } | 'basic' | undefined,
  auth: RegistryAuth | undefined,
): string | undefined {
  if (granted === undefined) return undefined;
  if (granted !== 'basic') return `Bearer ${granted.bearer}`;
  return auth === undefined ? undefined : `Basic ${basic(auth)}`;
}

function basic(auth: RegistryAuth): string {
  return Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}

/** `Bearer realm="…",service="…",scope="…"` as a map; undefined for another scheme. */
export function parseBearer(header: string): Record<string, string> | undefined {
  const match = /^Bearer\s+(.*)$/i.exec(header.trim());
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, value] of (match[1] ?? '').matchAll(/([A-Za-z]+)="([^"]*)"/g)) {
    if (key !== undefined && value !== undefined) params[key] = value;
  }
  return params;
}

function matchesDigest(body: Buffer, digest: string): boolean {
  const [algorithm, hex] = digest.split(':');
  return algorithm === 'sha256' && createHash('sha256').update(body).digest('hex') === hex;
}

function notFound(name: string, status: number): ImageLookup {
  // containerd's words for the same failure, as the kubelet passes them on (a missing
  // repository and a private one look alike); the gate says which login was tried.
  const denied = status !== 404;
  const why = denied
    ? 'pull access denied, repository does not exist or may require authorization'
    : 'manifest unknown';
  return { outcome: 'not-found', denied, message: `failed to pull image "${name}": ${why}` };
}

function noPlatform(name: string, arch: string, available: readonly string[]): ImageLookup {
  return {
    outcome: 'no-platform',
    available,
    message: `image "${name}" has no linux/${arch} variant (it has: ${available.join(', ') || 'none'}); GPU machines on the marketplace are linux/${arch}`,
  };
}

function unavailable(name: string, why: string): ImageLookup {
  return { outcome: 'unavailable', message: `cannot read image "${name}" from its registry: ${why}` };
}
