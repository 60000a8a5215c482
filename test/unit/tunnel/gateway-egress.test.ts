import { describe, expect, it } from 'vitest';
import { decideAdmission } from '../../../lib/admission/decide.ts';
import {
  allowEgressDestinations,
  egressDestination,
  parseAllowEgress,
} from '../../../lib/annotations/allow-egress.ts';
import { isKnownKey } from '../../../lib/annotations/keys.ts';
import { parseRequirements } from '../../../lib/annotations/parse.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { isGatewayDestination, peerEgress } from '../../../lib/tunnel/gateway/peers.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken, newSecret, sha256Hex } from '../../../lib/tunnel/tokens.ts';
import { aLaunch, endpointHarness, tunnelSettings } from '../../support/tunnel.ts';

describe('parseAllowEgress (anex.sh/allow-egress)', () => {
  it('reads Services by name or name.namespace and IPv4 networks, each with a port', () => {
    expect(parseAllowEgress(' web:80, db.data:5432 ,10.20.0.0/16:443')).toEqual({
      entries: [
        { kind: 'service', name: 'web', port: 80 },
        { kind: 'service', name: 'db', namespace: 'data', port: 5432 },
        { kind: 'cidr', cidr: '10.20.0.0/16', port: 443 },
      ],
      issues: [],
    });
  });

  it.each([
    ['', 'anex.sh/allow-egress: lists nothing; expected a comma-separated list of Services'],
    ['web', 'anex.sh/allow-egress: "web" has no port'],
    ['web:0', '"web:0" has a port that is not a number from 1 to 65535'],
    ['web:65536', '"web:65536" has a port that is not a number from 1 to 65535'],
    ['web:http', '"web:http" has a port that is not a number from 1 to 65535'],
    ['Web:80', '"Web:80" names "Web", which is not a Service name'],
    ['web.Data:80', '"web.Data:80" names "Data", which is not a namespace name'],
    [
      'web.default.svc.cluster.local:80',
      'is not a Service as name:port or name.namespace:port (write no cluster domain)',
    ],
    ['10.0.0.1:443', '"10.0.0.1:443" is an address without a prefix length; write it as 10.0.0.1/32:443'],
    ['10.0.0.1/24:443', '"10.0.0.1/24:443" has host bits set in its network'],
    ['10.0.0.0/33:443', '"10.0.0.0/33:443" is not an IPv4 network such as 10.20.0.0/16:443'],
    ['0.0.0.0/0:443', '"0.0.0.0/0:443" allows the whole address space; name the networks the pod needs'],
  ])('refuses %j naming the entry and the accepted form', (value, message) => {
    const { entries, issues } = parseAllowEgress(value);
    expect(entries).toEqual([]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(message);
  });

  it('reports every bad entry and keeps the good ones', () => {
    const { entries, issues } = parseAllowEgress('web:80, bad, 10.0.0.0/8:22, x:0');
    expect(entries).toHaveLength(2);
    expect(issues).toHaveLength(2);
  });

  it('turns entries into gateway destinations in the pod namespace, leaving bad ones out', () => {
    expect(egressDestination({ kind: 'service', name: 'web', port: 80 }, 'ml')).toBe('web.ml.svc:80');
    expect(
      allowEgressDestinations({ 'anex.sh/allow-egress': 'web:80,db.data:5432,10.1.0.0/16:443,bad' }, 'ml'),
    ).toEqual(['web.ml.svc:80', 'db.data.svc:5432', '10.1.0.0/16:443']);
    expect(allowEgressDestinations({}, 'ml')).toEqual([]);
  });

  it('is a known anex annotation', () => {
    expect(isKnownKey('anex.sh/allow-egress')).toBe(true);
  });
});

describe('anex.sh/allow-egress among the annotations the reconciler reads', () => {
  it('holds a pod with a bad entry like any other annotation error, and is no requirement otherwise', () => {
    const input = (value: string) => ({
      annotations: { 'anex.sh/gpu-names': 'RTX 4090', 'anex.sh/allow-egress': value },
      nodeSelector: { 'node-provider': 'vastai' },
    });
    const bad = parseRequirements(input('web:80, db'));
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors).toEqual([
      expect.stringContaining('anex.sh/allow-egress: "db" has no port'),
    ]);
    const good = parseRequirements(input('web:80'));
    expect(good.ok).toBe(true);
  });
});

describe('admission of anex.sh/allow-egress', () => {
  const request = (annotations: Record<string, string>) => ({
    uid: 'req-1',
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE' as const,
    name: 'train',
    namespace: 'ml',
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'train', namespace: 'ml', uid: 'u', annotations },
      spec: { nodeSelector: { 'node-provider': 'vastai' }, containers: [{ name: 'main', image: 'x' }] },
    },
  });
  const settings = {
    nodeNames: ['anex-vastai'],
    nodeSelectorKey: 'node-provider',
    nodeSelectorValues: ['vastai'],
  };

  it.each([
    [{ 'anex.sh/allow-egress': 'web:80, 10.1.0.0/16:443' }, true, undefined],
    [{ 'anex.sh/allow-egress': 'web:80, web:eighty' }, false, '"web:eighty" has a port'],
    [{ 'anex.sh/allow-egress': 'web', 'anex.sh/vram-min': '20GB' }, false, 'invalid anex annotations (2)'],
  ])('%j → allowed %s', (annotations, allowed, message) => {
    const { verdict } = decideAdmission(request(annotations), settings);
    expect(verdict.allowed).toBe(allowed);
    if (message !== undefined) expect(verdict.message).toContain(message);
  });
});

describe('peerEgress: what a peer may reach, recorded at bootstrap', () => {
  it('takes the GW_TUNNEL_* targets and the allow-egress destinations, sorted, once each', () => {
    expect(
      peerEgress({
        env: {
          GW_TUNNEL_5432: 'db.data.svc.cluster.local.:5432',
          GW_TUNNEL_8080: '10.96.0.20:80',
          GW_TUNNEL_9000: '[fd00::1]:80', // IPv6: the gateway is IPv4 only, never served
          GW_TUNNEL_X: 'web:80', // invalid: never served
          OTHER: '10.0.0.1:22',
        },
        allowEgress: ['web.ml.svc:80', '10.96.0.20:80', '10.1.0.0/16:443', 'bad dest:1'],
      }),
    ).toEqual(['10.1.0.0/16:443', '10.96.0.20:80', 'db.data.svc.cluster.local:5432', 'web.ml.svc:80']);
  });

  it.each([
    ['web.ml.svc:80', true],
    ['10.1.0.0/16:443', true],
    ['10.0.0.1:65535', true],
    ['10.0.0.1:65536', false],
    ['-j ACCEPT:80', false],
    ['web;reboot:80', false],
    ['web:080', false],
  ])('isGatewayDestination(%j) is %s', (text, ok) => {
    expect(isGatewayDestination(text)).toBe(ok);
  });
});

describe('GET /v1/peers: each peer with what it may reach', () => {
  it('serves the destinations recorded at bootstrap under the peer, as comments wg ignores', async () => {
    const gatewayToken = newSecret();
    const h = endpointHarness(tunnelSettings({ gatewayTokenHash: sha256Hex(gatewayToken) }));
    const pod = aLaunch({
      env: { GW_TUNNEL_5432: 'db.data.svc.cluster.local:5432' },
      allowEgress: ['web.default.svc:80', '10.1.0.0/16:443'],
    });
    h.backend.addPod(pod);
    const { token } = await issueBootstrapToken(h.store, { podUid: pod.podUid, now: h.clock.now });
    const key = wgKeyPair().publicKey;
    const boot = await handleAgentRequest(
      {
        method: 'POST',
        path: '/v1/bootstrap',
        headers: {},
        body: JSON.stringify({ token, podUid: pod.podUid, publicKey: key }),
      },
      h.deps,
    );
    expect(boot.status).toBe(200);
    const get = (query: string) =>
      handleAgentRequest(
        {
          method: 'GET',
          path: `/v1/peers${query}`,
          headers: { authorization: `Bearer ${gatewayToken}` },
          body: undefined,
        },
        h.deps,
      );
    expect((await get('?format=wg')).body).toBe(
      `[Peer]\nPublicKey = ${key}\nAllowedIPs = 10.250.0.2/32\n` +
        '# anex-allow 10.1.0.0/16 443\n# anex-allow db.data.svc.cluster.local 5432\n# anex-allow web.default.svc 80\n',
    );
    expect(JSON.parse((await get('')).body)).toEqual({
      peers: [
        {
          publicKey: key,
          address: '10.250.0.2',
          podUid: pod.podUid,
          allow: ['10.1.0.0/16:443', 'db.data.svc.cluster.local:5432', 'web.default.svc:80'],
        },
      ],
    });
  });
});

describe('GET /v1/peers: credential guesses', () => {
  it('are rate limited per caller address before the check, leaving the gateway its own bucket', async () => {
    const gatewayToken = newSecret();
    const h = endpointHarness(tunnelSettings({ gatewayTokenHash: sha256Hex(gatewayToken) }));
    const get = (token: string, sourceIp: string) =>
      handleAgentRequest(
        {
          method: 'GET',
          path: '/v1/peers',
          headers: { authorization: `Bearer ${token}` },
          body: undefined,
          sourceIp,
        },
        h.deps,
      );
    const statuses: number[] = [];
    // the harness's bucket holds 20 requests
    for (let i = 0; i < 21; i += 1) statuses.push((await get(newSecret(), '198.51.100.7')).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
    expect((await get(gatewayToken, '198.51.100.7')).status).toBe(429);
    expect((await get(gatewayToken, '203.0.113.2')).status).toBe(200);
  });
});
