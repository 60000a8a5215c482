import { describe, expect, it } from 'vitest';
import { tunnelSettingsFromEnv } from '../../../lib/config/tunnel.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { pinIssues, WIREPROXY_PIN } from '../../../lib/tunnel/pins.ts';

const key = wgKeyPair().publicKey;
const base = { ANEX_GATEWAY_PUBLIC_KEY: key, ANEX_GATEWAY_UDP_ENDPOINT: 'wg.example.com:51820' };
const asset = (arch: string) => ({
  url: `https://dl.example.com/wireproxy-${arch}`,
  sha256: 'b'.repeat(64),
  format: 'binary',
});

describe('tunnelSettingsFromEnv', () => {
  it('builds settings with defaults and the shipped pins', () => {
    const settings = tunnelSettingsFromEnv(base, {});
    expect(settings).toMatchObject({
      gatewayPublicKey: key,
      udpEndpoint: 'wg.example.com:51820',
      clusterCidrs: [],
    });
    expect(settings.vpnRange.cidr).toBe('10.99.0.0/16');
    expect(settings.binaries.wireproxy).toBe(WIREPROXY_PIN);
    expect(settings.wstunnel).toBeUndefined();
  });

  it('reads every optional setting, the wstunnel prefix from secrets and a pin override', () => {
    const settings = tunnelSettingsFromEnv(
      {
        ...base,
        ANEX_VPN_RANGE: '10.250.0.0/16',
        ANEX_GATEWAY_WSS_URL: 'wss://gw.example.com',
        ANEX_CLUSTER_CIDRS: '10.96.0.0/12, 10.244.0.0/16',
        ANEX_CLUSTER_DNS: '10.96.0.10',
        ANEX_TUNNEL_MTU: '1380',
        ANEX_GATEWAY_TOKEN_SHA256: 'c'.repeat(64),
        ANEX_AGENT_BINARIES: JSON.stringify({
          wireproxy: { version: 'v1.1.4-anex', assets: { amd64: asset('amd64'), arm64: asset('arm64') } },
        }),
      },
      { wstunnelPathPrefix: 'secret-prefix' },
    );
    expect(settings).toMatchObject({
      wstunnel: { serverUrl: 'wss://gw.example.com', pathPrefix: 'secret-prefix' },
      clusterCidrs: ['10.96.0.0/12', '10.244.0.0/16'],
      dns: ['10.96.0.10'],
      mtu: 1380,
      gatewayTokenHash: 'c'.repeat(64),
    });
    expect(pinIssues(settings.binaries.wireproxy)).toEqual([]);
    expect(settings.binaries.wireproxy.version).toBe('v1.1.4-anex');
  });

  it('lists every problem, naming the variable', () => {
    let message = '';
    try {
      tunnelSettingsFromEnv(
        {
          ANEX_VPN_RANGE: '10.0.0.1/8',
          ANEX_GATEWAY_PUBLIC_KEY: 'nope',
          ANEX_GATEWAY_WSS_URL: 'https://gw',
          ANEX_CLUSTER_CIDRS: '10.96.0.0',
          ANEX_CLUSTER_DNS: 'kube-dns',
          ANEX_TUNNEL_MTU: '9000',
          ANEX_GATEWAY_TOKEN_SHA256: 'xyz',
          ANEX_AGENT_BINARIES: '{',
        },
        {},
      );
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of [
      'ANEX_VPN_RANGE',
      'ANEX_GATEWAY_PUBLIC_KEY="nope"',
      'ANEX_GATEWAY_UDP_ENDPOINT=""',
      'ANEX_GATEWAY_WSS_URL="https://gw"',
      'wstunnel path prefix secret is missing',
      'ANEX_CLUSTER_CIDRS',
      'ANEX_CLUSTER_DNS',
      'ANEX_TUNNEL_MTU="9000"',
      'ANEX_GATEWAY_TOKEN_SHA256',
      'ANEX_AGENT_BINARIES: not JSON',
    ]) {
      expect(message).toContain(name);
    }
  });
});
