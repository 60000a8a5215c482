import { describe, expect, it } from 'vitest';
import { credentialIn, registryHost } from '../../../lib/images/pull-secrets.ts';

// The kubelet's reading of imagePullSecrets (pkg/credentialprovider DockerConfig): the
// `auths` map of a kubernetes.io/dockerconfigjson Secret, or the bare map of a legacy
// kubernetes.io/dockercfg one; `auth` (base64 user:password) or username/password.

const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
const json = (auths: Record<string, unknown>) => ({ '.dockerconfigjson': JSON.stringify({ auths }) });

describe('credentialIn', () => {
  it.each([
    [
      'ghcr.io with auth',
      json({ 'ghcr.io': { auth: auth('me', 'tok') } }),
      'ghcr.io',
      { username: 'me', password: 'tok' },
    ],
    [
      'username/password fields',
      json({ 'ghcr.io': { username: 'u', password: 'p' } }),
      'ghcr.io',
      { username: 'u', password: 'p' },
    ],
    [
      'a password with a colon',
      json({ 'ghcr.io': { auth: auth('u', 'a:b') } }),
      'ghcr.io',
      { username: 'u', password: 'a:b' },
    ],
    [
      'a scheme and path on the key',
      json({ 'https://ghcr.io/v2/': { auth: auth('u', 'p') } }),
      'ghcr.io',
      { username: 'u', password: 'p' },
    ],
    [
      'Docker Hub as docker config writes it',
      json({ 'https://index.docker.io/v1/': { auth: auth('u', 'p') } }),
      'docker.io',
      { username: 'u', password: 'p' },
    ],
    [
      'a port',
      json({ 'reg.local:5000': { auth: auth('u', 'p') } }),
      'reg.local:5000',
      { username: 'u', password: 'p' },
    ],
    [
      'a legacy .dockercfg',
      { '.dockercfg': JSON.stringify({ 'quay.io': { auth: auth('u', 'p') } }) },
      'quay.io',
      { username: 'u', password: 'p' },
    ],
  ])('%s', (_, data, registry, expected) => {
    expect(credentialIn(data, registry)).toEqual({ registry, ...expected });
  });

  it.each([
    ['another registry', json({ 'quay.io': { auth: auth('u', 'p') } }), 'ghcr.io'],
    ['another port', json({ 'reg.local:5000': { auth: auth('u', 'p') } }), 'reg.local'],
    ['not JSON', { '.dockerconfigjson': '{nope' }, 'ghcr.io'],
    [
      'an auth without a colon',
      json({ 'ghcr.io': { auth: Buffer.from('nocolon').toString('base64') } }),
      'ghcr.io',
    ],
    ['no config key at all (an Opaque Secret)', { token: 'x' }, 'ghcr.io'],
  ])('none for %s', (_, data, registry) => {
    expect(credentialIn(data, registry)).toBeUndefined();
  });
});

describe('registryHost', () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['GHCR.io', 'ghcr.io'],
    ['host:5000/some/path', 'host:5000'],
  ])('%s → %s', (key, host) => expect(registryHost(key)).toBe(host));
});
