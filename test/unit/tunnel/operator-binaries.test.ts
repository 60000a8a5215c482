import { describe, expect, it } from 'vitest';
import { operatorBinariesFromEnv } from '../../../lib/config/tunnel.ts';

const asset = { url: 'https://example.com/x', sha256: 'e'.repeat(64), format: 'tar.gz' };
const pin = { version: 'v9', assets: { amd64: asset, arm64: asset } };

/** Which pins the operator named, so anex supplies the rest (self-built wireproxy, shipped wstunnel). */
describe('operatorBinariesFromEnv', () => {
  it.each([
    ['nothing when unset', {}, []],
    ['nothing for a blank value', { ANEX_AGENT_BINARIES: ' ' }, []],
    ['only wstunnel', { ANEX_AGENT_BINARIES: JSON.stringify({ wstunnel: pin }) }, ['wstunnel']],
    [
      'both',
      { ANEX_AGENT_BINARIES: JSON.stringify({ wireproxy: pin, wstunnel: pin }) },
      ['wireproxy', 'wstunnel'],
    ],
  ])('returns %s', (_label, env, names) => {
    const pins = operatorBinariesFromEnv(env);
    expect(Object.keys(pins).sort()).toEqual(names);
    for (const p of Object.values(pins)) expect(p.version).toBe('v9');
  });

  it('refuses malformed JSON naming the variable', () => {
    expect(() => operatorBinariesFromEnv({ ANEX_AGENT_BINARIES: '{' })).toThrow(
      'ANEX_AGENT_BINARIES: not JSON',
    );
  });
});
