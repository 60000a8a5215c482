import type { ContainerStart } from '../common/container.ts';
import type { Cloud } from './catalog.ts';

/** How a simulated pod behaves after create (set per GPU type or per image). */
export type RunPodBootPlan = 'normal' | 'never-start' | 'error' | 'image-pull-error' | 'exited';

/** Lifecycle durations, ms. */
export interface RunPodTimings {
  /** PROVISIONING → STARTING. */
  provisionMs: number;
  /** STARTING → RUNNING (runtime still null). */
  startingMs: number;
  /** RUNNING without runtime → RUNNING with runtime and ports (the recorded v2 quirk). */
  portsMs: number;
}

export interface PodRecord {
  id: string;
  name: string;
  image: string;
  /** the registry credential id it pulled with (ContainerConfig `registry`) */
  registry?: string;
  args: string;
  /** how the runtime starts the container (lib/sim/common/container.ts); undefined: the image was not found */
  container: ContainerStart | undefined;
  disk: number;
  env: Record<string, string>;
  ports: string[];
  gpuId: string;
  gpuCount: number;
  /** the host's vCPUs and RAM (GB) for the pod's GPUs */
  vcpuCount: number;
  ramGb: number;
  cloud: Cloud;
  dataCenterId: string;
  cudaVersion: string | null;
  cost: number;
  createdAt: number;
  terminated: boolean;
  plan: RunPodBootPlan;
  publicIp: string;
  /** times the container's main process ended and RunPod restarted it (runpod audit #7), and the last restart */
  restarts?: { count: number; lastAt: number };
}

interface Phase {
  status: 'PROVISIONING' | 'STARTING' | 'RUNNING' | 'EXITED' | 'ERROR';
  /** ms since RUNNING with runtime, or undefined while there is no runtime. */
  uptimeMs: number | undefined;
  startedAt: number | undefined;
}

/** The status at `now`, derived from the creation time (no timers to leak). */
export function phaseAt(pod: PodRecord, now: number, t: RunPodTimings): Phase {
  const elapsed = now - pod.createdAt;
  const started = pod.createdAt + t.provisionMs + t.startingMs;
  const ready = started + t.portsMs;
  if (elapsed < t.provisionMs) return { status: 'PROVISIONING', uptimeMs: undefined, startedAt: undefined };
  if (pod.plan === 'error') return { status: 'ERROR', uptimeMs: undefined, startedAt: undefined };
  if (elapsed < t.provisionMs + t.startingMs || pod.plan === 'never-start') {
    return { status: 'STARTING', uptimeMs: undefined, startedAt: undefined };
  }
  // An image that cannot be pulled, or a container the runtime cannot start (restarted over
  // and over), has no structured signal on RunPod: RUNNING, runtime null.
  if (now < ready || pod.plan === 'image-pull-error' || pod.container?.ok === false)
    return { status: 'RUNNING', uptimeMs: undefined, startedAt: started };
  if (pod.plan === 'exited' && now >= ready + t.portsMs)
    return { status: 'EXITED', uptimeMs: undefined, startedAt: started };
  // A restarted container's uptime starts again (runpod audit #7: "`uptime` had reset").
  const since = Math.max(ready, pod.restarts?.lastAt ?? 0);
  return { status: 'RUNNING', uptimeMs: now - since, startedAt: started };
}

const ACTIONS: Record<Phase['status'], string[]> = {
  PROVISIONING: ['terminate'],
  STARTING: ['terminate'],
  RUNNING: ['stop', 'restart', 'terminate'],
  EXITED: ['start', 'terminate'],
  ERROR: ['terminate'],
};

/** The v2 `Pod` object (openapi `Pod`; providers.md §3.14). */
export function renderPod(pod: PodRecord, now: number, timings: RunPodTimings): Record<string, unknown> {
  const phase = phaseAt(pod, now, timings);
  const withRuntime = phase.uptimeMs !== undefined;
  const sshPort = 30_000 + (hash(pod.id) % 20_000);
  return {
    id: pod.id,
    name: pod.name,
    status: phase.status,
    actions: ACTIONS[phase.status],
    image: pod.image,
    args: pod.args,
    disk: pod.disk,
    env: pod.env,
    ports: pod.ports,
    registry: pod.registry ?? null,
    // What the pod got (create-a-pod.mdx at 4962c60: "actual … returned in gpu.memory / gpu.vcpuCount").
    gpu: { id: pod.gpuId, count: pod.gpuCount, vcpuCount: pod.vcpuCount, memory: pod.ramGb },
    cloud: pod.cloud,
    dataCenterId: pod.dataCenterId,
    cudaVersion: pod.cudaVersion,
    cost: pod.cost,
    locked: false,
    template: null,
    mounts: {},
    globalNetworking: { enabled: false },
    createdAt: new Date(pod.createdAt).toISOString(),
    startedAt: phase.startedAt === undefined ? null : new Date(phase.startedAt).toISOString(),
    ssh: {
      proxy: {
        host: 'ssh.runpod.io',
        port: 22,
        username: `${pod.id}-64411eb2`,
        command: `ssh ${pod.id}-64411eb2@ssh.runpod.io`,
      },
      direct: withRuntime
        ? {
            host: pod.publicIp,
            port: sshPort,
            username: 'root',
            command: `ssh root@${pod.publicIp} -p ${sshPort}`,
          }
        : null,
    },
    runtime: withRuntime
      ? {
          uptime: Math.floor((phase.uptimeMs ?? 0) / 1000),
          ports: [
            // An unrequested http port on a CGNAT address comes first, as on the live pod the
            // runpod audit recorded (#8, pod 63056175606): it is not the host's IP.
            { ip: '100.65.14.155', private: 19123, public: 60821, type: 'http' },
            { private: 22, public: sshPort, type: 'tcp', ip: pod.publicIp },
            ...publishedPorts(pod, sshPort),
          ],
        }
      : null,
  };
}

function publishedPorts(pod: PodRecord, base: number) {
  return pod.ports.map((spec, index) => {
    const [port = '0', type = 'tcp'] = spec.split('/');
    return { private: Number(port), public: base + index + 1, type, ip: pod.publicIp };
  });
}

function hash(text: string): number {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
  return h;
}
