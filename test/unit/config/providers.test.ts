import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { providerConfigFromEnv } from '../../../lib/cli/live-offers.ts';
import { providerAccessFromEnv, requireProviderAccess } from '../../../lib/config/providers.ts';
import { PROVIDER_ENV, SECRET_ENV } from '../../../lib/config/secrets.ts';
import { SETTINGS } from '../../../lib/config/settings.ts';
import { providerEndpointsFromEnv } from '../../../lib/local/provider-env.ts';
import { invalidInputIssues } from '../../support/invalid-input.ts';

const issuesOf = invalidInputIssues;

describe('provider variables: one name set', () => {
  it("are the issue's names", () => {
    expect(PROVIDER_ENV).toEqual({
      vastai: { apiKey: 'VAST_API_KEY', url: 'VAST_API_URL' },
      runpod: { apiKey: 'RUNPOD_API_KEY', url: 'RUNPOD_API_URL' },
    });
  });

  it('are what the settings table, the secret variables and local mode use', () => {
    const envs = SETTINGS.map((s) => s.env);
    expect(envs).toEqual(expect.arrayContaining([PROVIDER_ENV.vastai.url, PROVIDER_ENV.runpod.url]));
    expect(SECRET_ENV.vastai).toBe(PROVIDER_ENV.vastai.apiKey);
    expect(SECRET_ENV.runpod).toBe(PROVIDER_ENV.runpod.apiKey);
    expect(envs.some((e) => /^ANEX_(VASTAI|RUNPOD)_/.test(e) && !/NODE_NAME|START_TIMEOUT/.test(e))).toBe(
      false,
    );
  });

  it.each([
    ['ANEX_VASTAI_API_KEY', 'vastai'],
    ['ANEX_RUNPOD_API_KEY', 'runpod'],
  ])('no longer reads the alias %s', (alias) => {
    expect(providerAccessFromEnv({ [alias]: 'k' })).toEqual({});
  });
});

describe('providerAccessFromEnv', () => {
  it('reads keys as Secrets and URLs normalized', () => {
    const access = providerAccessFromEnv({
      VAST_API_KEY: 'vast-key-9',
      VAST_API_URL: 'http://127.0.0.1:8080/',
      RUNPOD_API_KEY: 'rp-key-9',
    });
    expect(access.vastai?.apiKey.reveal()).toBe('vast-key-9');
    expect(access.vastai?.baseUrl).toBe('http://127.0.0.1:8080');
    expect(access.runpod?.baseUrl).toBeUndefined();
    expect(`${JSON.stringify(access)} ${inspect(access, { depth: 4 })}`).not.toMatch(/vast-key-9|rp-key-9/);
  });

  it('skips a provider without a key (its URL alone configures nothing)', () => {
    expect(providerAccessFromEnv({ RUNPOD_API_URL: 'http://127.0.0.1:1', VAST_API_KEY: '' })).toEqual({});
  });

  it('reports every problem at once, naming the variable, the URL and the form, never the key', () => {
    const issues = issuesOf(() =>
      providerAccessFromEnv({
        VAST_API_KEY: 'vast key',
        RUNPOD_API_KEY: 'ok',
        RUNPOD_API_URL: 'ftp://runpod.example',
      }),
    );
    expect(issues).toEqual([
      'VAST_API_KEY: the API key contains whitespace (copy it again)',
      expect.stringMatching(
        /^RUNPOD_API_URL: "ftp:\/\/runpod\.example" is not an https URL \(http only for localhost\)/,
      ),
    ]);
  });

  it('names the variable to set when a key is missing', () => {
    expect(() => requireProviderAccess('runpod', {})).toThrow(
      'RUNPOD_API_KEY is not set: the runpod provider needs its API key (export RUNPOD_API_KEY=<your runpod API key>)',
    );
  });
});

describe('callers use the same reader', () => {
  const env = { VAST_API_KEY: 'k1', VAST_API_URL: 'http://localhost:9' };

  it('local mode gets the key and URL', () => {
    expect(providerEndpointsFromEnv(env)).toEqual({
      vastai: { apiKey: 'k1', baseUrl: 'http://localhost:9' },
    });
  });

  it('live offers get them as a Secret, and the --offers hint when missing', () => {
    const access = providerConfigFromEnv('vastai', env);
    expect(access.apiKey.reveal()).toBe('k1');
    expect(() => providerConfigFromEnv('runpod', env)).toThrow(
      /RUNPOD_API_KEY is not set: .*--offers <file>/,
    );
  });
});
