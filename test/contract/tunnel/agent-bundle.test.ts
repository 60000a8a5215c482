import { describe, expect, it } from 'vitest';
import { agentScript } from '../../../lib/tunnel/agent/script.ts';
import { buildAgentConfig, tunnelled } from '../../../lib/tunnel/endpoint/agent-config.ts';
import { renderAgentBundle } from '../../../lib/tunnel/endpoint/bundle.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../../../lib/tunnel/wireproxy-config.ts';
import { WSTUNNEL_PREFIX_ENV } from '../../../lib/tunnel/wstunnel.ts';
import { aLaunch, tunnelSettings } from '../../support/tunnel.ts';

/**
 * The contract between the endpoint's shell bundle (bundle.ts) and the agent script that
 * parses it (agent.sh): the same keys on both sides, and the constants the script hard-codes.
 */

function bundleKeys(): Set<string> {
  const config = buildAgentConfig({
    launch: aLaunch({ transport: 'wstunnel', env: { A: '1' } }),
    settings: tunnelSettings(),
    address: '10.250.0.2',
    arch: 'amd64',
    privateKey: wgKeyPair().privateKey,
    privateKeySource: 'endpoint',
    statusCredential: 'c',
  });
  return new Set(
    renderAgentBundle(tunnelled(config))
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[0] ?? ''),
  );
}

function scriptKeys(): Set<string> {
  const script = agentScript();
  const loop = script.slice(script.indexOf('while read -r key value; do'), script.indexOf('done <"$bundle"'));
  return new Set([...loop.matchAll(/^\s+([a-z0-9_]+)\)/gm)].map((m) => m[1] ?? ''));
}

describe('agent bundle ⇄ agent.sh', () => {
  it('uses the same keys on both sides (except the version line the script ignores)', () => {
    const rendered = bundleKeys();
    rendered.delete('version');
    rendered.delete('pod');
    rendered.delete('address');
    expect([...scriptKeys()].sort()).toEqual([...rendered].sort());
  });

  it('agrees on the key placeholder and the endpoints the script calls', () => {
    const script = agentScript();
    expect(script).toContain(`PLACEHOLDER='${PRIVATE_KEY_PLACEHOLDER}'`);
    for (const route of ['/v1/bootstrap', '/v1/status', '/v1/pod-alive']) expect(script).toContain(route);
    expect(script).not.toContain(WSTUNNEL_PREFIX_ENV); // the prefix's name travels in the bundle
  });
});
