import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../../lib/local/control-plane/ports.ts';
import {
  createProcessScope,
  type ProcessScope,
  waitUntil,
} from '../../../lib/local/control-plane/processes.ts';
import type { MemoryStore } from '../../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../../lib/tunnel/addresses.ts';
import { handleAgentRequest } from '../../../lib/tunnel/endpoint/handler.ts';
import { desiredPeers } from '../../../lib/tunnel/gateway/peers.ts';
import { renderGatewayWireproxyConfig } from '../../../lib/tunnel/gateway/render.ts';
import { wgKeyPair } from '../../../lib/tunnel/keys.ts';
import { issueBootstrapToken } from '../../../lib/tunnel/tokens.ts';
import { PRIVATE_KEY_PLACEHOLDER } from '../../../lib/tunnel/wireproxy-config.ts';
import { wireproxyBinary, wstunnelBinary } from '../../support/agent-build.ts';
import { httpGet, rawTcpGet, startHttpService } from '../../support/cluster-service.ts';
import { aLaunch, endpointHarness, tunnelSettings } from '../../support/tunnel.ts';
import { startWstunnelServer, type WstunnelServer } from '../../support/wstunnel.ts';

/**
 * Loopback end to end, no TUN device and no root: a gateway wireproxy (ListenPort +
 * TCPServerTunnel, standing in for the cluster gateway) and the agent's wireproxy started
 * from the config the agent endpoint hands out. Traffic through the agent's HTTP proxy
 * (127.0.0.1:3128) and through a GW_TUNNEL_<port> must reach an HTTP service "in the cluster".
 * On the RunPod path WireGuard's UDP crosses the real wstunnel pair: the client started with
 * the endpoint's own arguments and env, verifying the server's TLS certificate, and the
 * server as the gateway runs it (restricted to the WireGuard port, prefix from env).
 */

const PATH_PREFIX = 'loopback-prefix-secret-0123456789abcdef';

const SERVICE_TEXT = 'hello from the cluster side';
const GATEWAY_TUNNEL_PORT = 8080;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function topology(transport: 'udp' | 'wstunnel', agentMadeKey: boolean) {
  const wireproxy = wireproxyBinary();
  const service = await startHttpService(SERVICE_TEXT);
  cleanups.push(service.close);
  const [gwUdpPort, clientPort, agentHealth, gwHealth, tunnelPort] = await freePorts(5);
  if (!gwUdpPort || !clientPort || !agentHealth || !gwHealth || !tunnelPort) throw new Error('no free ports');
  const scope = createProcessScope('anex-loopback');
  cleanups.push(() => scope.close());
  const remote = `127.0.0.1:${gwUdpPort}`;
  const server =
    transport === 'wstunnel'
      ? await startWstunnelServer(scope, { restrictTo: remote, pathPrefix: PATH_PREFIX })
      : undefined;
  const gateway = wgKeyPair();
  const vpnRange = parseVpnRange('10.250.0.0/24');
  const settings = tunnelSettings(
    {
      vpnRange,
      udpEndpoint: remote,
      wstunnel: {
        serverUrl: server?.url ?? 'wss://gw.example.test',
        pathPrefix: PATH_PREFIX,
        localPort: clientPort,
        remote,
      },
      clusterCidrs: [],
      healthPort: agentHealth,
    },
    gateway,
  );
  const h = endpointHarness(settings);
  const pod = aLaunch({
    transport,
    env: { [`GW_TUNNEL_${tunnelPort}`]: `10.250.0.1:${GATEWAY_TUNNEL_PORT}` },
  });
  h.backend.addPod(pod);
  const { token } = await issueBootstrapToken(h.store, { podUid: pod.podUid, now: h.clock.now });
  const agentKey = agentMadeKey ? wgKeyPair() : undefined;
  const response = await handleAgentRequest(
    {
      method: 'POST',
      path: '/v1/bootstrap',
      headers: {},
      body: JSON.stringify({
        token,
        podUid: pod.podUid,
        ...(agentKey ? { publicKey: agentKey.publicKey } : {}),
      }),
    },
    h.deps,
  );
  expect(response.status).toBe(200);
  const config = JSON.parse(response.body) as {
    wireproxy: { config: string };
    address: string;
    wstunnel?: { args: string[]; env: Record<string, string> };
  };
  const agentConf = agentKey
    ? config.wireproxy.config.replace(PRIVATE_KEY_PLACEHOLDER, agentKey.privateKey)
    : config.wireproxy.config;

  if (server) startWstunnelClient(scope, server, config.wstunnel);
  await startGateway(scope, {
    store: h.store,
    vpnRange,
    gateway,
    gwUdpPort,
    gwHealth,
    servicePort: service.port,
    wireproxy,
  });
  writeFileSync(join(scope.dir, 'agent.conf'), agentConf, { mode: 0o600 });
  const agent = scope.spawn({
    name: 'agent-wireproxy',
    command: wireproxy,
    args: ['-c', join(scope.dir, 'agent.conf'), '-i', `127.0.0.1:${agentHealth}`],
  });
  await waitUntil(
    async () =>
      (await httpGet(`http://127.0.0.1:${agentHealth}/readyz`, { timeoutMs: 2_000 })).status === 200,
    {
      what: "the agent wireproxy's /readyz (handshake with the gateway)",
      timeoutMs: 60_000,
      intervalMs: 300,
      process: agent,
    },
  );
  return { service, tunnelPort, server, config, clientPort };
}

/** The agent's wstunnel client, exactly as the agent script starts it from the bootstrap. */
function startWstunnelClient(
  scope: ProcessScope,
  server: WstunnelServer,
  part: { args: string[]; env: Record<string, string> } | undefined,
) {
  if (part === undefined) throw new Error('the bootstrap of a wstunnel pod carries no wstunnel part');
  return scope.spawn({
    name: 'wstunnel-client',
    command: wstunnelBinary(),
    args: part.args,
    // The test CA stands in for the public CA that signs a real gateway's certificate.
    env: { PATH: process.env.PATH, ...part.env, SSL_CERT_FILE: server.caFile },
  });
}

function startGateway(
  scope: ProcessScope,
  o: {
    store: MemoryStore;
    vpnRange: ReturnType<typeof parseVpnRange>;
    gateway: { privateKey: string };
    gwUdpPort: number;
    gwHealth: number;
    servicePort: number;
    wireproxy: string;
  },
) {
  // The peer set comes from state, as the cluster gateway's sync does.
  return o.store.listAddresses().then((allocations) => {
    const conf = renderGatewayWireproxyConfig({
      address: '10.250.0.1',
      privateKey: o.gateway.privateKey,
      listenPort: o.gwUdpPort,
      peers: desiredPeers(allocations, o.vpnRange),
      serverTunnels: [{ listenPort: GATEWAY_TUNNEL_PORT, target: `127.0.0.1:${o.servicePort}` }],
    });
    writeFileSync(join(scope.dir, 'gateway.conf'), conf, { mode: 0o600 });
    return scope.spawn({
      name: 'gateway-wireproxy',
      command: o.wireproxy,
      args: ['-c', join(scope.dir, 'gateway.conf'), '-i', `127.0.0.1:${o.gwHealth}`],
    });
  });
}

async function expectTraffic(t: { service: { hits: () => number }; tunnelPort: number }) {
  const viaProxy = await httpGet(`http://10.250.0.1:${GATEWAY_TUNNEL_PORT}/`, { proxyPort: 3128 });
  expect(viaProxy).toEqual({ status: 200, body: SERVICE_TEXT });
  const viaTunnel = await rawTcpGet(t.tunnelPort);
  expect(viaTunnel).toMatch(/^HTTP\/1\.[01] 200/);
  expect(viaTunnel).toContain(SERVICE_TEXT);
  expect(t.service.hits()).toBe(2);
}

describe('loopback tunnel (agent wireproxy ⇄ gateway wireproxy)', () => {
  it('carries proxy and GW_TUNNEL traffic over UDP with an endpoint-made key', async () => {
    const t = await topology('udp', false);
    expect(t.config.address).toBe('10.250.0.2');
    await expectTraffic(t);
  });

  it('carries the same traffic on the RunPod path, over the real wstunnel client and server (TLS verified), with an agent-made key', async () => {
    const t = await topology('wstunnel', true);
    await expectTraffic(t);
    // The handshake could only cross over the WebSocket: the agent's Endpoint is the client.
    expect(t.config.wireproxy.config).toContain(`Endpoint = 127.0.0.1:${t.clientPort}\n`);
    expect(t.server?.process.logTail(50)).not.toContain(PATH_PREFIX);
  });
});
