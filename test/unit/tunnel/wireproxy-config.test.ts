import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lib/errors.ts';
import { parseGwTunnels } from '../../../lib/tunnel/gw-tunnels.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import {
  type AgentWireproxyOptions,
  PRIVATE_KEY_PLACEHOLDER,
  renderAgentWireproxyConfig,
  reservedPorts,
} from '../../../lib/tunnel/wireproxy-config.ts';

function options(overrides: Partial<AgentWireproxyOptions> = {}): AgentWireproxyOptions {
  return {
    address: '10.250.0.7',
    privateKey: wgKeyPair().privateKey,
    gatewayPublicKey: wgKeyPair().publicKey,
    endpoint: '203.0.113.10:51820',
    allowedIps: ['10.250.0.0/16', '10.96.0.0/12'],
    dns: ['10.96.0.10'],
    checkAlive: '10.250.0.1',
    tunnels: [],
    ...overrides,
  };
}

function sections(config: string): string[] {
  return config.split('\n').filter((l) => l.startsWith('['));
}

describe('renderAgentWireproxyConfig', () => {
  it('renders interface, gateway peer, the loopback-only HTTP proxy and the agent API on the VPN address', () => {
    const o = options();
    const config = renderAgentWireproxyConfig(o);
    expect(sections(config)).toEqual(['[Interface]', '[Peer]', '[http]', '[TCPServerTunnel]']);
    expect(config).toContain('Address = 10.250.0.7/32\n');
    expect(config).toContain(`PrivateKey = ${o.privateKey}\n`);
    expect(config).toContain('DNS = 10.96.0.10\n');
    expect(config).toContain('CheckAlive = 10.250.0.1\nCheckAliveInterval = 5\n');
    expect(config).toContain(`PublicKey = ${o.gatewayPublicKey}\n`);
    expect(config).toContain('Endpoint = 203.0.113.10:51820\n');
    expect(config).toContain('AllowedIPs = 10.250.0.0/16, 10.96.0.0/12\n');
    expect(config).toContain('PersistentKeepalive = 25\n');
    expect(config).toContain('[http]\nBindAddress = 127.0.0.1:3128\n');
    expect(config).toContain('[TCPServerTunnel]\nListenPort = 10250\nTarget = 127.0.0.1:10250\n');
    expect(config).not.toContain('0.0.0.0');
  });

  it('renders one TCPClientTunnel per tunnel, in port order, bound to loopback', () => {
    const config = renderAgentWireproxyConfig(
      options({
        tunnels: [
          { port: 6379, target: 'redis.default.svc.cluster.local:6379' },
          { port: 5432, target: '10.96.4.2:5432' },
        ],
      }),
    );
    expect(config).toContain(
      '[TCPClientTunnel]\nBindAddress = 127.0.0.1:5432\nTarget = 10.96.4.2:5432\n\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:6379\nTarget = redis.default.svc.cluster.local:6379\n',
    );
  });

  it('accepts the placeholder the agent fills with its own key', () => {
    expect(renderAgentWireproxyConfig(options({ privateKey: PRIVATE_KEY_PLACEHOLDER }))).toContain(
      `PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}\n`,
    );
  });

  it('reports every problem at once, naming each value', () => {
    const error = (() => {
      try {
        renderAgentWireproxyConfig(
          options({
            address: '10.250.0',
            gatewayPublicKey: 'nope',
            endpoint: 'gw.example.com',
            allowedIps: [],
            tunnels: [
              { port: 3128, target: 'a.b:1' },
              { port: 80, target: 'web:80' },
              { port: 80, target: 'web.default.svc.cluster.local:80' },
              { port: 70000, target: 'x.y:1' },
              { port: 81, target: 'a.b:1#x' },
            ],
          }),
        );
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    const issues = (error as InvalidInputError).issues.join('\n');
    for (const expected of [
      'address: "10.250.0"',
      'gatewayPublicKey: "nope"',
      'endpoint: "gw.example.com"',
      'allowedIps',
      'GW_TUNNEL_3128: port 3128 is taken by',
      'GW_TUNNEL_80="web:80": the destination uses a short host name',
      'GW_TUNNEL_80: port 80 appears twice',
      'GW_TUNNEL_70000: port must be from 1 to 65535',
      'GW_TUNNEL_81: "a.b:1#x" contains \'#\'',
    ]) {
      expect(issues).toContain(expected);
    }
  });
});

describe('parseGwTunnels', () => {
  const reserved = reservedPorts(9080);

  it('picks GW_TUNNEL_* out of the env, ignores the rest and sorts by port', () => {
    expect(
      parseGwTunnels(
        { HOME: '/root', GW_TUNNEL_8080: 'api.default.svc.cluster.local:80', GW_TUNNEL_22: '10.0.0.5:22' },
        reserved,
      ),
    ).toEqual({
      tunnels: [
        { port: 22, target: '10.0.0.5:22' },
        { port: 8080, target: 'api.default.svc.cluster.local:80' },
      ],
      issues: [],
    });
  });

  it.each([
    ['GW_TUNNEL_0', 'a.b:1', 'GW_TUNNEL_0: the part after GW_TUNNEL_ must be a port from 1 to 65535'],
    ['GW_TUNNEL_65536', 'a.b:1', 'GW_TUNNEL_65536: the part after GW_TUNNEL_'],
    ['GW_TUNNEL_080', 'a.b:1', 'without leading zeros'],
    ['GW_TUNNEL_http', 'a.b:1', 'GW_TUNNEL_http: the part after'],
    ['GW_TUNNEL_3128', 'a.b:1', "GW_TUNNEL_3128: port 3128 is taken by the agent's HTTP proxy"],
    ['GW_TUNNEL_9080', 'a.b:1', "GW_TUNNEL_9080: port 9080 is taken by wireproxy's health endpoint"],
    [
      'GW_TUNNEL_10250',
      'a.b:1',
      'GW_TUNNEL_10250: port 10250 is taken by the agent API (VPN address:10250, ADR 0023)',
    ],
    ['GW_TUNNEL_5432', 'db.default.svc', 'GW_TUNNEL_5432="db.default.svc": the destination is not host:port'],
    ['GW_TUNNEL_5432', 'db:5432', 'short host name'],
    ['GW_TUNNEL_5432', 'db.x:0', 'is not host:port'],
    ['GW_TUNNEL_5432', 'db.x:99999', 'is not host:port'],
    ['GW_TUNNEL_5432', 'bad_host.x:1', 'invalid host name'],
    ['GW_TUNNEL_5432', '', 'is not host:port'],
  ])('rejects %s=%j', (name, value, message) => {
    const parsed = parseGwTunnels([[name, value]], reserved);
    expect(parsed.tunnels).toEqual([]);
    expect(parsed.issues).toHaveLength(1);
    expect(parsed.issues[0]).toContain(message);
  });

  it('reports a port listed twice, keeping the first', () => {
    const parsed = parseGwTunnels(
      [
        ['GW_TUNNEL_5432', 'a.b:1'],
        ['GW_TUNNEL_5432', 'c.d:2'],
      ],
      reserved,
    );
    expect(parsed.tunnels).toEqual([{ port: 5432, target: 'a.b:1' }]);
    expect(parsed.issues).toEqual([
      'GW_TUNNEL_5432: port 5432 is already tunnelled by GW_TUNNEL_5432; each port once',
    ]);
  });

  it.each(['10.1.2.3:80', '[fd00::1]:443', 'svc.ns.svc.cluster.local.:8443'])('accepts %s', (target) => {
    expect(parseGwTunnels({ GW_TUNNEL_1000: target }, reserved).issues).toEqual([]);
  });
});
