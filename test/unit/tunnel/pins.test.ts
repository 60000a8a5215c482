import { describe, expect, it } from 'vitest';
import { pinIssues, WIREPROXY_PIN, WSTUNNEL_PIN } from '../../../lib/tunnel/pins.ts';
import { aPin } from '../../support/tunnel.ts';

describe('pins', () => {
  it('points at HTTPS release assets for both architectures', () => {
    for (const pin of [WIREPROXY_PIN, WSTUNNEL_PIN]) {
      expect(Object.keys(pin.assets).sort()).toEqual(['amd64', 'arm64']);
      for (const asset of Object.values(pin.assets))
        expect(asset.url).toMatch(/^https:\/\/github\.com\/.+\/releases\/download\//);
    }
  });

  it('reports the shipped pins as unusable until checksums are filled at release', () => {
    const issues = [...pinIssues(WIREPROXY_PIN), ...pinIssues(WSTUNNEL_PIN)];
    expect(issues).toHaveLength(4);
    expect(issues[0]).toContain('SHA-256 of https://github.com/windtf/wireproxy/releases/download/');
    expect(issues[0]).toContain('is unset');
  });

  it.each([
    ['a complete pin', {}, 0],
    ['a malformed checksum', { sha256: 'abc' }, 2],
    ['an http URL', { url: 'http://example.test/x' }, 2],
  ])('checks %s', (_label, asset, count) => {
    expect(pinIssues(aPin('wireproxy', asset))).toHaveLength(count);
  });

  it('allows http URLs only when told to', () => {
    expect(
      pinIssues(aPin('wireproxy', { url: 'http://127.0.0.1:1/x' }), { allowInsecureUrls: true }),
    ).toEqual([]);
  });
});
