import { describe, expect, it } from 'vitest';
import { formatWstunnelCommand, wstunnelClientCommand } from '../../../lib/tunnel/wstunnel.ts';

describe('wstunnelClientCommand', () => {
  it('verifies TLS, forwards local UDP to the WireGuard port and keeps the prefix out of argv', () => {
    const command = wstunnelClientCommand({ serverUrl: 'wss://wg-gw.example.com:443' });
    expect(command.args).toEqual([
      'client',
      '--tls-verify-certificate',
      '-L',
      'udp://127.0.0.1:51820:127.0.0.1:51820?timeout_sec=0',
      // the default port 443 is implied
      'wss://wg-gw.example.com',
    ]);
    expect(command.secretEnv).toEqual(['WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX']);
    expect(command.localEndpoint).toBe('127.0.0.1:51820');
    expect(command.args.join(' ')).not.toMatch(/-P|--http-upgrade-path-prefix/);
  });

  it('formats for display with the secret as a variable reference', () => {
    const text = formatWstunnelCommand(
      wstunnelClientCommand({ serverUrl: 'wss://gw.example.com', localPort: 51999 }),
    );
    expect(text).toBe(
      `WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX="$WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX" wstunnel client --tls-verify-certificate -L 'udp://127.0.0.1:51999:127.0.0.1:51820?timeout_sec=0' wss://gw.example.com`,
    );
  });

  it.each([
    ['ws://gw.example.com', 'must be wss://'],
    ['wss://gw.example.com/secret-prefix', 'no path'],
    ['not a url', 'must be wss://'],
  ])('rejects server URL %s', (serverUrl, message) => {
    expect(() => wstunnelClientCommand({ serverUrl })).toThrow(message);
  });

  it('rejects a bad local port', () => {
    expect(() => wstunnelClientCommand({ serverUrl: 'wss://a.b', localPort: 0 })).toThrow('local port 0');
  });
});
