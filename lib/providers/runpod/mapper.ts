import { AnexError } from '../../errors.ts';
import { normalizeRunPodCatalog } from '../../offers/normalize/runpod.ts';
import type { Offer, RunPodCloudType } from '../../offers/offer.ts';
import { markedEnv, tagOfMarks } from '../common/launch-marks.ts';
import type { Instance, InstanceState, InstanceTag, LaunchSpec } from '../provider.ts';
import { formatTag, TAG_ENV_VAR } from '../provider.ts';
import type { RunPodPod } from './schemas.ts';

/** RunPod ↔ domain. The offer mapping is the single call site {@link toOffers}. */

/** A catalog answer for one cloud tier → offers (GPU type × tier × data center × count). */
export function toOffers(
  gpus: unknown,
  dataCenters: unknown,
  scope: { cloud: RunPodCloudType | undefined; count: number; onOddRow?: (message: string) => void },
): Offer[] {
  return normalizeRunPodCatalog(
    {
      gpus,
      dataCenters,
      count: scope.count,
      ...(scope.cloud ? { cloud: scope.cloud } : {}),
      ...(scope.onOddRow ? { onOddRow: scope.onOddRow } : {}),
    },
    'runpod catalog response',
  );
}

/**
 * v2 status → {@link InstanceState}. Ready = RUNNING with a runtime: v2 reports RUNNING with
 * `runtime: null` before the container is up (providers.md §3.7).
 */
export function toInstanceState(pod: RunPodPod | null): InstanceState {
  if (!pod || pod.status === 'TERMINATED') return { phase: 'gone' };
  switch (pod.status) {
    case 'ERROR':
      return { phase: 'failed', fault: 'host', reason: 'RunPod reports status ERROR (unrecoverable)' };
    case 'EXITED':
      return { phase: 'exited' };
    case 'PROVISIONING':
      return { phase: 'pending' };
    case 'RUNNING':
      // Ready = RUNNING with a runtime (runpod audit #9): `runtime.ports` is optional in the
      // spec and a pod that exposes nothing may have none; `runtime: null` is the container
      // not up yet (live: RUNNING with runtime null right after create).
      return pod.runtime !== null && pod.runtime !== undefined
        ? { phase: 'running' }
        : { phase: 'starting', message: 'RUNNING, waiting for the container runtime' };
    default:
      return { phase: 'starting', message: `status ${pod.status}` };
  }
}

export function tagOf(pod: RunPodPod): InstanceTag | undefined {
  return tagOfMarks(pod.name, pod.env?.[TAG_ENV_VAR]);
}

export function toInstance(pod: RunPodPod): Instance {
  const instance: Instance = { id: pod.id, provider: 'runpod', state: toInstanceState(pod) };
  const tag = tagOf(pod);
  if (tag) instance.tag = tag;
  if (pod.gpu?.id) instance.gpuName = pod.gpu.id;
  if (typeof pod.gpu?.count === 'number') instance.gpuCount = pod.gpu.count;
  if (typeof pod.cost === 'number') instance.pricePerHour = pod.cost;
  const created = pod.createdAt ? Date.parse(pod.createdAt) : Number.NaN;
  if (!Number.isNaN(created)) instance.createdAt = created;
  const ip = publicIpOf(pod);
  if (ip) instance.publicIp = ip;
  return instance;
}

/**
 * The pod's public address: `ssh.direct.host`, else a `tcp` port published on a public address
 * (SkyPilot's rule). A live pod also lists an unrequested `http` port on a CGNAT address
 * (100.64.0.0/10), which is no host IP (runpod audit #8, pod 63056175606).
 */
function publicIpOf(pod: RunPodPod): string | undefined {
  const direct = pod.ssh?.direct?.host?.trim();
  if (direct) return direct;
  const port = pod.runtime?.ports?.find(
    (p) => p.type === 'tcp' && p.public != null && p.ip != null && !isPrivateIpv4(p.ip),
  );
  return port?.ip?.trim() || undefined;
}

/** RFC 1918, CGNAT (RFC 6598) and loopback IPv4 addresses. */
function isPrivateIpv4(ip: string): boolean {
  const [a = -1, b = -1] = ip.split('.').map(Number);
  return (
    a === 10 ||
    a === 127 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127)
  );
}

/**
 * The `POST /v2/pods` body for one candidate: one GPU type, one cloud, one data center (v2
 * has no priority lists, so the reconciler walks candidates). Kubernetes' `command` and `args`
 * go in exec form as `entrypoint` (replaces the image ENTRYPOINT) and `cmd` (replaces CMD):
 * runpod/docs create-a-pod.mdx at 4962c60 ("`entrypoint` (array): Container ENTRYPOINT in
 * exec form, overriding the image's own"; runpod audit #1). Folding both into the `args`
 * string, as before, handed the agent to the image's own ENTRYPOINT, which on vLLM, TGI or
 * Ollama never runs it; and no shell quoting is needed (runpod audit #2).
 */
/**
 * The CUDA floor at create (runpod audit #3; docs `CreateGpuConfig.minCudaVersion` "Lowest
 * acceptable CUDA version for the host machine", `allowedCudaVersions`): the catalog says some
 * host has it, only this makes the scheduler place the pod on one. An exact version is the one
 * allowed; a maximum alone cannot be said at create (the catalog filter applied it).
 */
function cudaAtCreate(cuda: LaunchSpec['cuda']): Record<string, unknown> {
  const version = (v: string) => (/^\d+$/.test(v) ? `${v}.0` : v);
  if (cuda === undefined) return {};
  if ('exact' in cuda) return { allowedCudaVersions: [version(cuda.exact)] };
  return cuda.min === undefined ? {} : { minCudaVersion: version(cuda.min) };
}

/**
 * `registry`: the id of the RunPod registry credential for the pod's private image
 * (ContainerConfig `registry`, "Container registry credential ID (for private images)"; REST v1
 * named it `containerRegistryAuthId`), made from `launch.registryAuth` by the provider.
 */
export function toCreateBody(
  offer: Offer,
  launch: LaunchSpec,
  tag: InstanceTag,
  registry?: string,
): Record<string, unknown> {
  if (!offer.gpuTypeId || !offer.cloudType || !offer.dataCenterId) {
    throw new AnexError(
      `runpod offer "${offer.offerId}" lacks a GPU type id, cloud type or data center; pass an offer from listOffers`,
      { kind: 'invalid-input' },
    );
  }
  const body: Record<string, unknown> = {
    name: formatTag(tag),
    image: launch.image,
    gpu: {
      id: offer.gpuTypeId,
      count: offer.gpuCount,
      ...cudaAtCreate(launch.cuda),
      ...floorsAtCreate(launch.floors, offer.gpuCount),
    },
    cloud: offer.cloudType,
    dataCenterIds: [offer.dataCenterId],
    disk: Math.max(1, Math.ceil(launch.diskGb)),
    env: markedEnv(launch, tag),
  };
  if (launch.ports && launch.ports.length > 0) body.ports = [...launch.ports];
  if (launch.command !== undefined) body.entrypoint = [...launch.command];
  if (launch.args !== undefined) body.cmd = [...launch.args];
  if (registry !== undefined) body.registry = registry;
  return body;
}

/**
 * CPU and RAM floors as RunPod places them, per GPU (`gpu.minVcpuCountPerGpu`,
 * `gpu.minRamPerGpu` in GB: create-a-pod.mdx at 4962c60, "placement filter"; runpod audit
 * #12): the pod's total minimum spread over its GPUs, rounded up.
 */
export function floorsAtCreate(
  floors: LaunchSpec['floors'],
  gpuCount: number,
): { minVcpuCountPerGpu?: number; minRamPerGpu?: number } {
  const count = Math.max(1, gpuCount);
  const out: { minVcpuCountPerGpu?: number; minRamPerGpu?: number } = {};
  if (floors?.cpuCores !== undefined)
    out.minVcpuCountPerGpu = Math.max(1, Math.ceil(floors.cpuCores / count));
  if (floors?.ramMb !== undefined) out.minRamPerGpu = Math.max(1, Math.ceil(floors.ramMb / 1024 / count));
  return out;
}
