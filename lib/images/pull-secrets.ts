/**
 * A pod's `imagePullSecrets` as the kubelet reads them (pkg/credentialprovider: DockerConfig,
 * `auths` of a kubernetes.io/dockerconfigjson Secret, or the bare map of a legacy
 * kubernetes.io/dockercfg one), and the credential for one image's registry. Matching follows
 * the kubelet for the cases that occur in practice: the key's host (scheme and path ignored,
 * port kept) equals the image's registry; docker.io, index.docker.io and registry-1.docker.io
 * are one registry. The credential is a secret: never log it, never store it.
 */

/** What a registry is logged into with. */
export interface RegistryAuth {
  /** the registry host as the image names it (`ghcr.io`, `docker.io`, `host:5000`) */
  registry: string;
  username: string;
  password: string;
}

/** The keys a pull Secret holds its config under, by Secret type. */
export const PULL_SECRET_KEYS = ['.dockerconfigjson', '.dockercfg'] as const;

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `https://index.docker.io/v1/` → `index.docker.io`; `host:5000/path` → `host:5000`. */
export function registryHost(key: string): string {
  const bare = key.trim().replace(/^[a-z]+:\/\//i, '');
  return (bare.split('/')[0] ?? '').toLowerCase();
}

function sameRegistry(a: string, b: string): boolean {
  return a === b || (DOCKER_HUB.has(a) && DOCKER_HUB.has(b));
}

/**
 * The credential for `registry` in one Secret's data (its `.dockerconfigjson` or `.dockercfg`
 * text); undefined when the Secret has none for it or cannot be read as a docker config.
 */
export function credentialIn(
  data: Readonly<Record<string, string>>,
  registry: string,
): RegistryAuth | undefined {
  for (const key of PULL_SECRET_KEYS) {
    const text = data[key];
    if (text === undefined) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    const auths =
      key === '.dockerconfigjson' ? (parsed as { auths?: unknown } | null)?.auths : (parsed as unknown);
    if (auths === null || typeof auths !== 'object') continue;
    for (const [host, entry] of Object.entries(auths as Record<string, unknown>)) {
      if (!sameRegistry(registryHost(host), registry.toLowerCase())) continue;
      const auth = entryAuth(entry);
      if (auth !== undefined) return { registry, ...auth };
    }
  }
  return undefined;
}

/** `username`/`password`, else `auth` (base64 of user:password), as docker writes either. */
function entryAuth(entry: unknown): { username: string; password: string } | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const e = entry as { username?: unknown; password?: unknown; auth?: unknown };
  if (typeof e.username === 'string' && typeof e.password === 'string' && e.username !== '')
    return { username: e.username, password: e.password };
  if (typeof e.auth !== 'string') return undefined;
  const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
