import { describe, expect, it } from 'vitest';
import {
  credentialsFor,
  indexKey,
  keyringOf,
  type PullSecret,
  urlsMatch,
} from '../../../lib/images/keyring.ts';
import { type ImageRef, parseImageRef } from '../../../lib/images/reference.ts';

// The kubelet's reading of imagePullSecrets (k8s pkg/credentialprovider: MakeDockerKeyring,
// BasicDockerKeyring.Add/Lookup, URLsMatch, DockerConfigEntry.UnmarshalJSON), as a table.

const b64 = (text: string) => Buffer.from(text).toString('base64');
const auth = (user: string, password: string) => ({ auth: b64(`${user}:${password}`) });

function aSecret(auths: Record<string, unknown>, overrides: Partial<PullSecret> = {}): PullSecret {
  return {
    namespace: 'ml',
    name: 'regcred',
    type: 'kubernetes.io/dockerconfigjson',
    uid: 'uid-1',
    resourceVersion: '7',
    data: { '.dockerconfigjson': JSON.stringify({ auths }) },
    ...overrides,
  };
}

function ref(image: string): ImageRef {
  const parsed = parseImageRef(image);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

/** The users the kubelet would try for `image`, in order. */
function usersFor(secrets: PullSecret[], image: string): string[] {
  const result = keyringOf(secrets);
  if (!result.ok) throw new Error(result.message);
  return credentialsFor(result.keyring, ref(image)).map((c) => c.username);
}

describe('credentialsFor: which login the kubelet uses for an image', () => {
  it.each([
    ['a bare host', { 'ghcr.io': auth('a', 'p') }, 'ghcr.io/org/app:1', ['a']],
    ['https:// and a /v2/ path', { 'https://ghcr.io/v2/': auth('a', 'p') }, 'ghcr.io/org/app:1', ['a']],
    ['http:// and a /v1/ path', { 'http://quay.io/v1/': auth('a', 'p') }, 'quay.io/org/app', ['a']],
    ['a port', { 'reg.local:5000': auth('a', 'p') }, 'reg.local:5000/app:1', ['a']],
    ['another port', { 'reg.local:5000': auth('a', 'p') }, 'reg.local:5001/app:1', []],
    ['no port on the key, one on the image', { 'reg.local': auth('a', 'p') }, 'reg.local:5000/app', []],
    ['another registry', { 'quay.io': auth('a', 'p') }, 'ghcr.io/org/app:1', []],
    ['a subdomain is not the host', { 'example.com': auth('a', 'p') }, 'reg.example.com/app', []],
    ['a glob over one part', { '*.example.com': auth('a', 'p') }, 'reg.example.com/app', ['a']],
    ['a glob is one part only', { '*.example.com': auth('a', 'p') }, 'a.reg.example.com/app', []],
    ['a path serves what is under it', { 'ghcr.io/org': auth('a', 'p') }, 'ghcr.io/org/app:1', ['a']],
    ['a path does not serve others', { 'ghcr.io/org': auth('a', 'p') }, 'ghcr.io/other/app:1', []],
    [
      'the more specific path first, then the host',
      { 'ghcr.io': auth('host', 'p'), 'ghcr.io/org': auth('path', 'p') },
      'ghcr.io/org/app:1',
      ['path', 'host'],
    ],
    ['host names compare lower-case', { 'GHCR.io': auth('a', 'p') }, 'ghcr.io/org/app', ['a']],
    [
      'Docker Hub as docker login writes it',
      { 'https://index.docker.io/v1/': auth('a', 'p') },
      'nginx',
      ['a'],
    ],
    ['Docker Hub as docker.io', { 'docker.io': auth('a', 'p') }, 'me/app:1', ['a']],
    ['Docker Hub as its API host', { 'registry-1.docker.io': auth('a', 'p') }, 'docker.io/me/app', ['a']],
    ['the Hub login is not for another registry', { 'index.docker.io': auth('a', 'p') }, 'ghcr.io/a/b', []],
    [
      'a direct match wins over the Hub fallback',
      { 'docker.io': auth('direct', 'p'), 'index.docker.io': auth('hub', 'p') },
      'nginx',
      ['direct'],
    ],
    ['username and password fields', { 'ghcr.io': { username: 'u', password: 'p' } }, 'ghcr.io/a/b', ['u']],
    [
      'auth wins over username and password',
      { 'ghcr.io': { username: 'fields', password: 'p', ...auth('auth', 'p') } },
      'ghcr.io/a/b',
      ['auth'],
    ],
    ['an entry with no login is skipped', { 'ghcr.io': {} }, 'ghcr.io/a/b', []],
  ])('%s', (_, auths, image, users) => {
    expect(usersFor([aSecret(auths)], image)).toEqual(users);
  });

  it('takes every Secret’s login for the same key, in the pod’s order (the kubelet tries each)', () => {
    const first = aSecret({ 'ghcr.io': auth('first', 'p') }, { name: 'one' });
    const second = aSecret({ 'ghcr.io': auth('second', 'p') }, { name: 'two' });
    expect(usersFor([first, second], 'ghcr.io/a/b')).toEqual(['first', 'second']);
  });

  it('reads a legacy kubernetes.io/dockercfg Secret (the bare map)', () => {
    const legacy = aSecret(
      {},
      {
        type: 'kubernetes.io/dockercfg',
        data: { '.dockercfg': JSON.stringify({ 'quay.io': auth('u', 'p') }) },
      },
    );
    expect(usersFor([legacy], 'quay.io/a/b')).toEqual(['u']);
  });

  it.each([
    ['an Opaque Secret with the key', 'Opaque'],
    ['a dockercfg-typed Secret holding .dockerconfigjson', 'kubernetes.io/dockercfg'],
  ])('passes over %s, as the kubelet does', (_, type) => {
    expect(usersFor([aSecret({ 'ghcr.io': auth('u', 'p') }, { type })], 'ghcr.io/a/b')).toEqual([]);
  });

  it('gives the login, the registry as the image names it, the Secret and an identity without the value', () => {
    const result = keyringOf([aSecret({ 'https://ghcr.io/v1/': auth('me', 'a:b=c') })]);
    if (!result.ok) throw new Error(result.message);
    expect(credentialsFor(result.keyring, ref('ghcr.io/org/app:1'))).toEqual([
      {
        registry: 'ghcr.io',
        username: 'me',
        password: 'a:b=c',
        secret: 'regcred',
        identity: 'ml/regcred@uid-1:7#ghcr.io',
      },
    ]);
  });

  it('decodes auth without padding (RawStdEncoding), as newer kubelets do', () => {
    const unpadded = b64('u:pw').replace(/=+$/, '');
    expect(usersFor([aSecret({ 'ghcr.io': { auth: unpadded } })], 'ghcr.io/a/b')).toEqual(['u']);
  });
});

describe('keyringOf: a pull Secret the kubelet cannot read fails the pull', () => {
  it.each([
    [
      'not JSON',
      { '.dockerconfigjson': '{"auths": {"ghcr.io": {"auth": "s3cr3t' },
      '.dockerconfigjson: is not valid JSON',
    ],
    ['auths not an object', { '.dockerconfigjson': '{"auths": []}' }, '"auths" is not an object'],
    [
      'an auth without a colon',
      { '.dockerconfigjson': JSON.stringify({ auths: { 'ghcr.io': { auth: b64('s3cr3t') } } }) },
      'entry "ghcr.io": unable to parse auth field, must be formatted as base64(username:password)',
    ],
    [
      'an auth that is not base64',
      { '.dockerconfigjson': JSON.stringify({ auths: { 'ghcr.io': { auth: 's3cr3t!!' } } }) },
      'entry "ghcr.io": "auth" is not base64',
    ],
    [
      'a password that is not a string',
      { '.dockerconfigjson': JSON.stringify({ auths: { 'ghcr.io': { username: 'u', password: 5 } } }) },
      '"password" is not a string',
    ],
  ])('%s', (_, data, message) => {
    const result = keyringOf([aSecret({}, { data })]);
    expect(result).toMatchObject({ ok: false, secret: 'regcred' });
    const said = result.ok ? '' : result.message;
    expect(said).toContain(message);
    expect(said).not.toContain('s3cr3t');
  });
});

describe('indexKey and urlsMatch (the kubelet’s key and glob rules)', () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['index.docker.io/v1/', 'index.docker.io'],
    ['https://ghcr.io/v2/org', 'ghcr.io/org'],
    ['reg.local:5000/team/', 'reg.local:5000/team/'],
    ['https://user@reg.local', 'reg.local'],
  ])('indexKey(%s) = %s', (location, key) => expect(indexKey(location)).toBe(key));

  it.each([
    ['*.docker.io', 'blah.docker.io', true],
    ['*.docker.io', 'not.right.io', false],
    ['reg-?.example.com', 'reg-1.example.com', false], // `?` starts a query, as in Go's url.Parse
    ['reg-[0-9].example.com', 'reg-7.example.com/app', true],
    ['reg-[^0-9].example.com', 'reg-7.example.com/app', false],
    ['[::1]:5000', '[::1]:5000/app', true],
    ['ghcr.io/org', 'ghcr.io/organisation/app', true], // a plain string prefix, as the kubelet's HasPrefix
  ])('urlsMatch(%s, %s) = %s', (glob, target, expected) => expect(urlsMatch(glob, target)).toBe(expected));
});
