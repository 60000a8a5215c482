import type { ImageRef } from './reference.ts';

/**
 * A pod's imagePullSecrets read the way the kubelet reads them (k8s pkg/credentialprovider:
 * `MakeDockerKeyring`, `BasicDockerKeyring.Add` / `Lookup`, `DockerConfigEntry.UnmarshalJSON`):
 *
 * - only a `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson` (its `auths` map) and a
 *   `kubernetes.io/dockercfg` Secret's `.dockercfg` (the bare map) count; any other Secret is
 *   passed over without a word;
 * - an entry's key is a registry location: `https://` or `http://` dropped, a leading `/v1/` or
 *   `/v2/` of its path dropped (`https://index.docker.io/v1/` is `index.docker.io`), a port kept,
 *   a path kept (`quay.io/team` serves only images under it);
 * - `auth` (base64 of user:password, padded or not) wins over `username`/`password`;
 * - an image matches a key when its host has as many dot-separated parts, each matching the
 *   key's (`*` globs one part: `*.example.com`), the ports are equal and the key's path is a
 *   prefix of the image's; more specific keys first (the index is sorted in reverse), every
 *   credential of every matching key in turn — the kubelet tries each until one pulls;
 * - no match, and the image is on Docker Hub: the credentials filed under `index.docker.io`
 *   (anex also takes `registry-1.docker.io`, the Hub's API host, there).
 *
 * A Secret whose config cannot be read fails the pull in the kubelet (`MakeDockerKeyring`
 * returns the error): {@link keyringOf} says so without quoting the Secret's content.
 */

/** A pull Secret as the API server holds it (string data, decoded). */
export interface PullSecret {
  namespace: string;
  name: string;
  /** `kubernetes.io/dockerconfigjson`, `kubernetes.io/dockercfg`, `Opaque`, … */
  type: string;
  uid: string;
  resourceVersion: string;
  data: Readonly<Record<string, string>>;
}

/**
 * One login for an image's registry. `password` is a secret: it goes to the registry check
 * and to the provider's create only — never to a log, an error, an event or the state store.
 */
export interface RegistryAuth {
  /** the registry host as the image names it (`ghcr.io`, `docker.io`, `registry.local:5000`) */
  registry: string;
  username: string;
  password: string;
  /** the pull Secret it came from (a name, for messages) */
  secret: string;
  /**
   * What the login is, without its value: `<namespace>/<secret>@<uid>:<resourceVersion>#<key>`.
   * Stable while the Secret is unchanged; a provider names what it keeps for the login after it.
   */
  identity: string;
}

export const DOCKER_CONFIG_JSON = {
  type: 'kubernetes.io/dockerconfigjson',
  key: '.dockerconfigjson',
} as const;
export const DOCKER_CFG = { type: 'kubernetes.io/dockercfg', key: '.dockercfg' } as const;

interface Entry {
  /** `host[:port][/path]`, as the kubelet indexes it */
  key: string;
  username: string;
  password: string;
  secret: PullSecret;
}

/** The logins of a pod's pull Secrets, in the kubelet's order. */
export interface Keyring {
  readonly entries: readonly Entry[];
}

export type KeyringResult = { ok: true; keyring: Keyring } | { ok: false; secret: string; message: string };

/** The keyring of `secrets` (in the pod's order), or the first Secret whose config is unreadable. */
export function keyringOf(secrets: readonly PullSecret[]): KeyringResult {
  const entries: Entry[] = [];
  for (const secret of secrets) {
    const config = configOf(secret);
    if (config === undefined) continue;
    const parsed = parseConfig(config.text, config.key);
    if (!parsed.ok) return { ok: false, secret: secret.name, message: `${config.key}: ${parsed.message}` };
    for (const [location, login] of parsed.entries) {
      const key = indexKey(location);
      if (key === undefined) continue;
      entries.push({ key, ...login, secret });
    }
  }
  // Go's sort.Reverse over the deduplicated keys; a key's credentials keep the Secrets' order.
  const keys = [...new Set(entries.map((e) => e.key))].sort().reverse();
  const ordered = keys.flatMap((key) => entries.filter((e) => e.key === key));
  return { ok: true, keyring: { entries: ordered } };
}

/** The logins to try for `ref`, most specific first; empty when none applies (pull anonymously). */
export function credentialsFor(keyring: Keyring, ref: ImageRef): RegistryAuth[] {
  const image = `${ref.registry}/${ref.repository}`;
  let found = keyring.entries.filter((e) => urlsMatch(e.key, image));
  if (found.length === 0 && ref.registry === 'docker.io') {
    found = keyring.entries.filter((e) => e.key === 'index.docker.io' || e.key === 'registry-1.docker.io');
  }
  return found
    .filter((e) => e.username !== '' || e.password !== '')
    .map((e) => ({
      registry: ref.registry,
      username: e.username,
      password: e.password,
      secret: e.secret.name,
      identity: `${e.secret.namespace}/${e.secret.name}@${e.secret.uid}:${e.secret.resourceVersion}#${e.key}`,
    }));
}

function configOf(secret: PullSecret): { key: string; text: string } | undefined {
  for (const kind of [DOCKER_CONFIG_JSON, DOCKER_CFG]) {
    const text = secret.data[kind.key];
    if (secret.type === kind.type && text !== undefined && text.length > 0) return { key: kind.key, text };
  }
  return undefined;
}

type Login = { username: string; password: string };
type Parsed = { ok: true; entries: [string, Login][] } | { ok: false; message: string };

/** The config's entries; a shape the kubelet's json.Unmarshal refuses is an error (no content quoted). */
function parseConfig(text: string, key: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: never passed on.
    return { ok: false, message: 'is not valid JSON' };
  }
  const top = key === DOCKER_CONFIG_JSON.key;
  if (top && json !== null && !isObject(json)) return { ok: false, message: 'is not an object' };
  const map = top ? (json as Record<string, unknown> | null)?.auths : json;
  if (map === null || map === undefined) return { ok: true, entries: [] };
  if (!isObject(map)) return { ok: false, message: top ? '"auths" is not an object' : 'is not an object' };
  const entries: [string, Login][] = [];
  for (const [location, entry] of Object.entries(map)) {
    const login = entryLogin(entry);
    if (typeof login === 'string')
      return { ok: false, message: `entry ${JSON.stringify(location)}: ${login}` };
    entries.push([location, login]);
  }
  return { ok: true, entries };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `DockerConfigEntry.UnmarshalJSON`: `auth`, when set, replaces username and password. */
function entryLogin(entry: unknown): Login | string {
  if (entry === null) return { username: '', password: '' };
  if (!isObject(entry)) return 'is not an object';
  const e = entry;
  for (const field of ['username', 'password', 'email', 'auth']) {
    if (e[field] !== undefined && e[field] !== null && typeof e[field] !== 'string')
      return `"${field}" is not a string`;
  }
  const auth = typeof e.auth === 'string' ? e.auth : '';
  if (auth === '')
    return {
      username: typeof e.username === 'string' ? e.username : '',
      password: typeof e.password === 'string' ? e.password : '',
    };
  const decoded = decodeAuth(auth);
  if (decoded === undefined) return '"auth" is not base64';
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'unable to parse auth field, must be formatted as base64(username:password)';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Go's StdEncoding when the field ends in `=`, RawStdEncoding otherwise: strict, unlike Buffer.from. */
function decodeAuth(field: string): string | undefined {
  const text = field.replace(/[\r\n]/g, '');
  const padded = field.trim().endsWith('=');
  const valid = padded
    ? /^[A-Za-z0-9+/]*={1,2}$/.test(text) && text.length % 4 === 0
    : /^[A-Za-z0-9+/]*$/.test(text) && text.length % 4 !== 1;
  return valid ? Buffer.from(text, 'base64').toString('utf8') : undefined;
}

/** `BasicDockerKeyring.Add`: the location's host (port kept) and its path past `/v1/`, `/v2/`. */
export function indexKey(location: string): string | undefined {
  const value = /^https?:\/\//.test(location) ? location : `https://${location}`;
  const url = schemeless(value.replace(/^https?:\/\//, ''));
  if (url === undefined) return undefined;
  let path = url.path;
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3);
  return path.length > 0 && path !== '/' ? `${url.host}${path}` : url.host;
}

/** `parseSchemelessUrl`: authority (without userinfo) and path; query and fragment dropped. */
function schemeless(text: string): { host: string; path: string } | undefined {
  const bare = text.split(/[?#]/)[0] ?? '';
  const slash = bare.indexOf('/');
  const authority = slash < 0 ? bare : bare.slice(0, slash);
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host === '' || /\s/.test(host)) return undefined;
  return { host, path: slash < 0 ? '' : bare.slice(slash) };
}

/** `URLsMatch(glob, target)`: ports equal, as many host parts, each globbed, the glob's path a prefix. */
export function urlsMatch(glob: string, target: string): boolean {
  const g = schemeless(glob);
  const t = schemeless(target);
  if (g === undefined || t === undefined) return false;
  const [gParts, gPort] = splitHost(g.host);
  const [tParts, tPort] = splitHost(t.host);
  if (gPort !== tPort || gParts.length !== tParts.length || !t.path.startsWith(g.path)) return false;
  return gParts.every((part, i) => globMatch(part, tParts[i] ?? ''));
}

/** `net.SplitHostPort`, falling back to the whole host and no port; host names compare lower-case. */
function splitHost(host: string): [string[], string] {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d*)$/.exec(host);
  const name = match === null ? host : (match[1] ?? match[2] ?? '');
  return [name.toLowerCase().split('.'), match === null ? '' : (match[3] ?? '')];
}

/** `filepath.Match` for one host part: `*`, `?`, `[…]` classes (`^` negates), `\` escapes; a bad pattern matches nothing. */
function globMatch(pattern: string, text: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (char === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      source += `[${body.startsWith('^') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else source += escapeRegExp(char);
  }
  try {
    return new RegExp(`^${source}$`).test(text);
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
