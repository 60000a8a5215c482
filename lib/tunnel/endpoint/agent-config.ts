import { InvalidInputError } from '../../errors.ts';
import type { ContainerProbes, HandlerSpec } from '../../kube/probes.ts';
import type { AgentVolume } from '../../kube/volumes.ts';
import { gatewayAddress } from '../addresses.ts';
import { parseGwTunnels } from '../gw-tunnels.ts';
import type { Arch, BinaryAsset, BinaryPin } from '../pins.ts';
import { DEFAULT_HEALTH_PORT, renderAgentWireproxyConfig, reservedPorts } from '../wireproxy-config.ts';
import { WSTUNNEL_PREFIX_ENV, wstunnelClientCommand } from '../wstunnel.ts';
import type { AgentInitContainer, AgentLaunch, TunnelSettings } from './types.ts';

/** A binary for the agent to fetch: one architecture's asset of a pin. */
export interface AgentBinary extends BinaryAsset {
  name: string;
  version: string;
}

/** Everything the agent needs, returned once by POST /v1/bootstrap. Contains secrets: never log it. */
export interface AgentConfig {
  version: 1;
  podUid: string;
  address: string;
  /** `agent`: the config holds a placeholder the agent replaces with the key it generated */
  privateKeySource: 'agent' | 'endpoint';
  /** absent for transport `none`: the agent runs the pod without a tunnel */
  wireproxy?: { config: string; binary: AgentBinary };
  wstunnel?: { args: string[]; env: Record<string, string>; binary: AgentBinary };
  healthPort: number;
  readyTimeoutSeconds: number;
  aliveIntervalSeconds: number;
  deadManSeconds: number;
  /** command followed by args */
  argv: string[];
  /** where argv runs; absent: the container's own working directory */
  workingDir?: string;
  env: Record<string, string>;
  restartPolicy: AgentLaunch['restartPolicy'];
  /** restart back-off in place (protocol 3; kubelet's CrashLoopBackOff timing) */
  backoff: { initialSeconds: number; maxSeconds: number; resetSeconds: number };
  probes?: ContainerProbes;
  preStop?: HandlerSpec;
  terminationGracePeriodSeconds: number;
  /** mounts the agent makes before anything runs (protocol 4; files hold secret values) */
  volumes?: AgentVolume[];
  /** the app container's declared TCP containerPorts: all the agent's port-forward may reach (ADR 0023) */
  ports: number[];
  /** init containers and sidecars, run in order before the app container (protocol 4) */
  initContainers?: AgentInitConfig[];
  /** bearer credential for /v1/status and /v1/pod-alive; only its hash is stored */
  statusCredential: string;
}

/** docs/agent-protocol.md `initContainers`: argv = command + args, as for the app container. */
export interface AgentInitConfig {
  name: string;
  argv: string[];
  env: Record<string, string>;
  workingDir?: string;
  restartPolicy?: 'Always';
  probes?: ContainerProbes;
  preStop?: HandlerSpec;
  /** its declared TCP containerPorts */
  ports: number[];
}

export interface AgentConfigInput {
  launch: AgentLaunch;
  settings: TunnelSettings;
  address: string;
  arch: Arch;
  privateKey: string;
  privateKeySource: AgentConfig['privateKeySource'];
  statusCredential: string;
}

/** kubelet's container restart back-off: 10 s doubling to 5 min, forgotten after 10 min (pkg/kubelet/kubelet.go). */
export const KUBELET_BACKOFF = { initialSeconds: 10, maxSeconds: 300, resetSeconds: 600 } as const;

/** Declared ports as the answer carries them: always a list, empty when none. */
function portList(ports: readonly number[] | undefined): number[] {
  return [...(ports ?? [])];
}

function binaryFor(pin: BinaryPin, arch: Arch): AgentBinary {
  return { name: pin.name, version: pin.version, ...pin.assets[arch] };
}

function initConfig(init: AgentInitContainer): AgentInitConfig {
  return {
    name: init.name,
    argv: [...init.command, ...init.args],
    env: { ...init.env },
    ...(init.workingDir === undefined ? {} : { workingDir: init.workingDir }),
    ...(init.sidecar === true ? { restartPolicy: 'Always' as const } : {}),
    ...(init.probes === undefined ? {} : { probes: init.probes }),
    ...(init.preStop === undefined ? {} : { preStop: init.preStop }),
    ports: portList(init.ports),
  };
}

/** @throws InvalidInputError when the pod's GW_TUNNEL_* variables or the settings are unusable. */
export function buildAgentConfig(input: AgentConfigInput): AgentConfig {
  const { launch, settings } = input;
  const healthPort = settings.healthPort ?? DEFAULT_HEALTH_PORT;
  const parsed = parseGwTunnels(launch.env, reservedPorts(healthPort));
  const issues = [...parsed.issues];
  if (launch.command.length + launch.args.length === 0) {
    // The agent replaces the image's entrypoint and cannot read it back from the image.
    issues.push('the container has neither command nor args; set command so the agent knows what to run');
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  const common = {
    version: 1 as const,
    podUid: launch.podUid,
    address: input.address,
    privateKeySource: input.privateKeySource,
    healthPort,
    readyTimeoutSeconds: settings.readyTimeoutSeconds ?? 120,
    aliveIntervalSeconds: settings.aliveIntervalSeconds ?? 10,
    deadManSeconds: settings.deadManSeconds ?? 1800,
    argv: [...launch.command, ...launch.args],
    ...(launch.workingDir === undefined ? {} : { workingDir: launch.workingDir }),
    env: { ...launch.env },
    restartPolicy: launch.restartPolicy,
    backoff: settings.restartBackoff ?? KUBELET_BACKOFF,
    ...(launch.probes === undefined ? {} : { probes: launch.probes }),
    ...(launch.preStop === undefined ? {} : { preStop: launch.preStop }),
    terminationGracePeriodSeconds: launch.terminationGracePeriodSeconds ?? 30,
    ports: portList(launch.ports),
    ...(launch.volumes === undefined || launch.volumes.length === 0 ? {} : { volumes: [...launch.volumes] }),
    ...(launch.initContainers === undefined || launch.initContainers.length === 0
      ? {}
      : { initContainers: launch.initContainers.map(initConfig) }),
    statusCredential: input.statusCredential,
  };
  if (launch.transport === 'none') return common;
  const wstunnel = launch.transport === 'wstunnel' ? wstunnelPart(settings, input.arch) : undefined;
  const config = renderAgentWireproxyConfig({
    address: input.address,
    privateKey: input.privateKey,
    gatewayPublicKey: settings.gatewayPublicKey,
    endpoint: wstunnel?.endpoint ?? settings.udpEndpoint,
    allowedIps: [settings.vpnRange.cidr, ...settings.clusterCidrs],
    ...(settings.dns === undefined ? {} : { dns: settings.dns }),
    ...(settings.mtu === undefined ? {} : { mtu: settings.mtu }),
    checkAlive: gatewayAddress(settings.vpnRange),
    tunnels: parsed.tunnels,
    healthPort,
  });
  return {
    ...common,
    wireproxy: { config, binary: binaryFor(settings.binaries.wireproxy, input.arch) },
    ...(wstunnel === undefined ? {} : { wstunnel: wstunnel.part }),
  };
}

function wstunnelPart(settings: TunnelSettings, arch: Arch) {
  if (!settings.wstunnel) {
    throw new InvalidInputError([
      'this pod needs the wstunnel transport but no wstunnel server is configured',
    ]);
  }
  const command = wstunnelClientCommand({
    serverUrl: settings.wstunnel.serverUrl,
    ...(settings.wstunnel.localPort === undefined ? {} : { localPort: settings.wstunnel.localPort }),
    ...(settings.wstunnel.remote === undefined ? {} : { remote: settings.wstunnel.remote }),
  });
  return {
    endpoint: command.localEndpoint,
    part: {
      args: command.args,
      env: { [WSTUNNEL_PREFIX_ENV]: settings.wstunnel.pathPrefix },
      binary: binaryFor(settings.binaries.wstunnel, arch),
    },
  };
}
