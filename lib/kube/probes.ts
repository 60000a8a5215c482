import type { V1Container, V1LifecycleHandler, V1Probe } from '@kubernetes/client-node';

/**
 * A container's probes and preStop hook as the anex agent runs them on the rented machine
 * (docs/agent-protocol.md, `Handler` and `Probe`): the pod spec's shape with named ports
 * resolved to numbers, since the agent has no container port list to resolve them against.
 */
export type HandlerSpec =
  | { exec: { command: readonly string[] } }
  | {
      httpGet: {
        path: string;
        port: number;
        host?: string;
        scheme: 'HTTP' | 'HTTPS';
        httpHeaders?: readonly { name: string; value: string }[];
      };
    }
  | { tcpSocket: { port: number; host?: string } }
  | { grpc: { port: number; service?: string } }
  | { sleep: { seconds: number } };

export type ProbeSpec = HandlerSpec & {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  terminationGracePeriodSeconds?: number;
};

export interface ContainerProbes {
  startup?: ProbeSpec;
  readiness?: ProbeSpec;
  liveness?: ProbeSpec;
}

/** A container's probes and preStop, or the fields that cannot be run, worded for the user. */
export interface ContainerLifecycle {
  probes: ContainerProbes;
  preStop?: HandlerSpec;
  issues: string[];
}

type Actionable = Pick<V1Probe, 'exec' | 'httpGet' | 'tcpSocket' | 'grpc'> &
  Pick<V1LifecycleHandler, 'sleep'>;

/** Reads the probes and the preStop hook of `container` (kubelet's defaults for unset timings). */
export function containerLifecycle(container: V1Container): ContainerLifecycle {
  const issues: string[] = [];
  const probes: ContainerProbes = {};
  const field = (name: string) => `containers[${container.name}].${name}`;
  const kinds = [
    ['startup', container.startupProbe, 'startupProbe'],
    ['readiness', container.readinessProbe, 'readinessProbe'],
    ['liveness', container.livenessProbe, 'livenessProbe'],
  ] as const;
  for (const [kind, probe, name] of kinds) {
    if (probe === undefined) continue;
    const handler = toHandler(probe, container, field(name), issues);
    if (handler !== undefined) probes[kind] = { ...handler, ...timing(probe) };
  }
  const result: ContainerLifecycle = { probes, issues };
  const hook = container.lifecycle?.preStop;
  if (hook !== undefined) {
    const handler = toHandler(hook, container, field('lifecycle.preStop'), issues);
    if (handler !== undefined) result.preStop = handler;
  }
  if (container.lifecycle?.postStart !== undefined) {
    issues.push(`${field('lifecycle.postStart')}: postStart hooks are not run on rented machines; remove it`);
  }
  return result;
}

function timing(probe: V1Probe): Omit<ProbeSpec, keyof HandlerUnion> {
  // kubelet's defaults (k8s.io/api core/v1 Probe field docs).
  const out: Omit<ProbeSpec, keyof HandlerUnion> = {
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
  if (probe.terminationGracePeriodSeconds !== undefined)
    out.terminationGracePeriodSeconds = probe.terminationGracePeriodSeconds;
  return out;
}

type HandlerUnion = { exec: unknown; httpGet: unknown; tcpSocket: unknown; grpc: unknown; sleep: unknown };

function toHandler(
  action: Actionable,
  container: V1Container,
  field: string,
  issues: string[],
): HandlerSpec | undefined {
  if (action.exec !== undefined) return { exec: { command: action.exec.command ?? [] } };
  if (action.sleep !== undefined) return { sleep: { seconds: action.sleep.seconds } };
  if (action.grpc !== undefined) {
    const grpc: { port: number; service?: string } = { port: action.grpc.port };
    if (action.grpc.service !== undefined) grpc.service = action.grpc.service;
    return { grpc };
  }
  if (action.httpGet !== undefined) {
    const port = resolvePort(action.httpGet.port, container);
    if (port === undefined) {
      issues.push(`${field}.httpGet.port: "${action.httpGet.port}" names no port of the container`);
      return undefined;
    }
    const get: Extract<HandlerSpec, { httpGet: unknown }>['httpGet'] = {
      path: action.httpGet.path ?? '/',
      port,
      scheme: action.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
    };
    if (action.httpGet.host !== undefined) get.host = action.httpGet.host;
    if (action.httpGet.httpHeaders !== undefined)
      get.httpHeaders = action.httpGet.httpHeaders.map((h) => ({ name: h.name, value: h.value }));
    return { httpGet: get };
  }
  if (action.tcpSocket !== undefined) {
    const port = resolvePort(action.tcpSocket.port, container);
    if (port === undefined) {
      issues.push(`${field}.tcpSocket.port: "${action.tcpSocket.port}" names no port of the container`);
      return undefined;
    }
    const tcp: { port: number; host?: string } = { port };
    if (action.tcpSocket.host !== undefined) tcp.host = action.tcpSocket.host;
    return { tcpSocket: tcp };
  }
  issues.push(`${field}: no handler (exec, httpGet, tcpSocket, grpc or sleep)`);
  return undefined;
}

/** An IntOrString port: a number, a numeric string, or the name of one of the container's ports. */
function resolvePort(port: number | string | object, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port !== 'string') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** True when the container has a probe that gates readiness (readiness or startup). */
export function readinessGated(probes: ContainerProbes | undefined): boolean {
  return probes?.readiness !== undefined || probes?.startup !== undefined;
}
