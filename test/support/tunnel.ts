import { randomUUID } from 'node:crypto';
import { MemoryStore } from '../../lib/state/memory-store.ts';
import { parseVpnRange } from '../../lib/tunnel/addresses.ts';
import { MemoryAgentBackend } from '../../lib/tunnel/endpoint/memory-backend.ts';
import { tokenBucketLimiter } from '../../lib/tunnel/endpoint/rate-limit.ts';
import type {
  AgentEndpointDeps,
  AgentLaunch,
  AgentLogger,
  TunnelSettings,
} from '../../lib/tunnel/endpoint/types.ts';
import { type WgKeyPair, wgKeyPair } from '../../lib/tunnel/keys.ts';
import type { BinaryAsset, BinaryPin } from '../../lib/tunnel/pins.ts';

/** Builders and fakes for tunnel tests (our own interfaces only). */

export function aLaunch(overrides: Partial<AgentLaunch> = {}): AgentLaunch {
  return {
    podUid: randomUUID(),
    transport: 'udp',
    command: ['python', 'train.py'],
    args: [],
    env: {},
    restartPolicy: 'Never',
    ...overrides,
  };
}

export function aPin(name: BinaryPin['name'], asset: Partial<BinaryAsset> = {}): BinaryPin {
  const full: BinaryAsset = {
    url: `https://example.test/${name}.tar.gz`,
    sha256: 'a'.repeat(64),
    format: 'tar.gz',
    ...asset,
  };
  return { name, version: 'v0-test', source: 'test', assets: { amd64: full, arm64: full } };
}

/** A build manifest as lib/tunnel/agent-build/build.sh writes it (fake checksums). */
export function aBuildManifest(overrides: Record<string, unknown> = {}) {
  const assets = (name: string, amd64: string, arm64: string) => ({
    amd64: { file: `${name}-linux-amd64`, sha256: amd64.repeat(64), format: 'binary' },
    arm64: { file: `${name}-linux-arm64`, sha256: arm64.repeat(64), format: 'binary' },
  });
  return {
    goVersion: 'go1.26.8',
    binaries: {
      agent: {
        version: '2',
        source: 'lib/tunnel/agent-build/agent',
        assets: assets('agent', 'e', 'f'),
      },
      wireproxy: {
        version: 'v1.0.9-anex1',
        source: 'github.com/pufferffish/wireproxy@v1.0.9 with lib/tunnel/agent-build',
        assets: assets('wireproxy', 'a', 'b'),
      },
      wstunnel: {
        version: '10.6.2-anex.1',
        source: 'lib/tunnel/agent-build/wstunnel',
        assets: assets('wstunnel', 'c', 'd'),
      },
    },
    ...overrides,
  };
}

/**
 * `ANEX_AGENT_BINARIES` for tests: checksummed pins (what an operator sets at release), so the
 * endpoint serves bootstraps. Nothing downloads them: simulated agents never fetch binaries.
 */
export function agentBinariesEnv(): string {
  const { name: _w, ...wireproxy } = aPin('wireproxy');
  const { name: _s, ...wstunnel } = aPin('wstunnel');
  return JSON.stringify({ wireproxy, wstunnel });
}

export function tunnelSettings(
  overrides: Partial<TunnelSettings> = {},
  gateway: WgKeyPair = wgKeyPair(),
): TunnelSettings {
  return {
    vpnRange: parseVpnRange('10.250.0.0/24'),
    gatewayPublicKey: gateway.publicKey,
    udpEndpoint: '203.0.113.10:51820',
    wstunnel: { serverUrl: 'wss://wg-gw.example.com:443', pathPrefix: 'prefix-secret-for-tests-only' },
    clusterCidrs: ['10.96.0.0/12'],
    dns: ['10.96.0.10'],
    binaries: { wireproxy: aPin('wireproxy'), wstunnel: aPin('wstunnel') },
    ...overrides,
  };
}

export interface LogLine {
  level: 'info' | 'warn';
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every line, so tests can scan logs for secrets. */
export function capturingLogger(): AgentLogger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    text: () => lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields ?? {})}`).join('\n'),
  };
}

export interface EndpointHarness {
  deps: AgentEndpointDeps;
  store: MemoryStore;
  backend: MemoryAgentBackend;
  logger: ReturnType<typeof capturingLogger>;
  clock: { now: number };
}

export function endpointHarness(settings: TunnelSettings = tunnelSettings()): EndpointHarness {
  const store = new MemoryStore();
  const backend = new MemoryAgentBackend();
  const logger = capturingLogger();
  const clock = { now: Date.UTC(2026, 10, 26, 12) };
  const deps: AgentEndpointDeps = {
    store,
    backend,
    settings,
    logger,
    now: () => clock.now,
    rateLimiter: tokenBucketLimiter({ capacity: 20, refillPerSecond: 1 }),
  };
  return { deps, store, backend, logger, clock };
}
