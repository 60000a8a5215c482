import type { V1Container, V1PodSpec, V1Volume } from '@kubernetes/client-node';

/**
 * What a rented machine cannot honour in a pod's spec, one message per field, naming the field
 * and what is accepted (issue #14 §6). Pure, over the raw spec, so the validating webhook
 * refuses the pod at admission and the reconciler reports a pod that got in anyway
 * (`UnsupportedPodSpec`) with the same words, before anything is rented.
 *
 * What is *not* here because it needs the anex agent (env from Secrets, files, init
 * containers) is checked by the reconciler, which knows whether it launches one
 * (lib/reconcile/pod-checks.ts).
 */
export function unsupportedPodSpec(spec: V1PodSpec | undefined): string[] {
  if (spec === undefined) return [];
  const issues: string[] = [];
  const containers = spec.containers ?? [];
  if (containers.length !== 1) {
    const names = containers.map((c) => c.name).join(', ');
    issues.push(
      `spec.containers: anex runs exactly one app container per pod (a rented machine runs one container image); found ${containers.length}${names ? ` (${names})` : ''} — run the others as init containers or sidecars (spec.initContainers with restartPolicy: Always) using the same image`,
    );
  }
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[field] === true)
      issues.push(`spec.${field}: the pod runs on a rented machine, not on a cluster node; remove it`);
  }
  if ((spec.ephemeralContainers ?? []).length > 0)
    issues.push(
      'spec.ephemeralContainers: kubectl debug cannot add a container to a rented machine; use kubectl exec',
    );
  if ((spec.resourceClaims ?? []).length > 0)
    issues.push('spec.resourceClaims: dynamic resource allocation is not available on rented machines');
  if (spec.os?.name !== undefined && spec.os.name !== 'linux')
    issues.push(`spec.os.name: "${spec.os.name}": rented machines run linux`);
  const image = containers[0]?.image;
  for (const init of spec.initContainers ?? []) {
    if (image !== undefined && init.image !== image) {
      issues.push(
        `spec.initContainers[${init.name}]: image "${init.image ?? ''}" differs from the app container's "${image}"; a rented machine runs one image, so init containers and sidecars must use the pod's image`,
      );
    }
    issues.push(...containerIssues(init, `spec.initContainers[${init.name}]`));
  }
  for (const container of containers)
    issues.push(...containerIssues(container, `spec.containers[${container.name}]`));
  for (const volume of spec.volumes ?? []) issues.push(...volumeIssues(volume));
  return issues;
}

const VOLUME_KINDS =
  'secret, configMap, downwardAPI, projected (secret, configMap, downwardAPI sources) and emptyDir';

/** The volume sources a rented machine can be given as files (written by the agent). */
const SUPPORTED = new Set(['secret', 'configMap', 'downwardAPI', 'projected', 'emptyDir']);

function volumeIssues(volume: V1Volume): string[] {
  const where = `spec.volumes[${volume.name}]`;
  const kinds = Object.entries(volume)
    .filter(([key, value]) => key !== 'name' && value !== undefined && value !== null)
    .map(([key]) => key);
  const other = kinds.find((kind) => !SUPPORTED.has(kind));
  if (other !== undefined) {
    return [
      `${where}: ${other} volumes cannot be attached to a rented machine; anex supports ${VOLUME_KINDS}${other === 'persistentVolumeClaim' ? ' (keep data in object storage, or in an emptyDir for the pod’s life)' : ''}`,
    ];
  }
  if (
    volume.emptyDir?.medium !== undefined &&
    volume.emptyDir.medium !== '' &&
    volume.emptyDir.medium !== 'Memory'
  )
    return [
      `${where}: emptyDir.medium "${volume.emptyDir.medium}" is not supported; use "" (disk) or "Memory"`,
    ];
  if (volume.projected !== undefined && !isServiceAccountVolume(volume)) {
    const issues: string[] = [];
    for (const source of volume.projected.sources ?? []) {
      if (source.serviceAccountToken !== undefined)
        issues.push(
          `${where}: a projected serviceAccountToken is not given to a rented machine (the host is untrusted and cannot reach the Kubernetes API); remove the source`,
        );
      if (source.clusterTrustBundle !== undefined)
        issues.push(
          `${where}: projected clusterTrustBundle sources are not supported; use a configMap source`,
        );
      if ((source as { podCertificate?: unknown }).podCertificate !== undefined)
        issues.push(`${where}: projected podCertificate sources are not supported`);
    }
    return issues;
  }
  return [];
}

function containerIssues(container: V1Container, where: string): string[] {
  const issues: string[] = [];
  if ((container.volumeDevices ?? []).length > 0)
    issues.push(`${where}.volumeDevices: block devices cannot be attached to a rented machine`);
  for (const mount of container.volumeMounts ?? []) {
    if (mount.subPathExpr !== undefined && mount.subPathExpr !== '')
      issues.push(`${where}.volumeMounts[${mount.name}].subPathExpr: not supported; use subPath`);
    if (mount.mountPropagation !== undefined && mount.mountPropagation !== 'None')
      issues.push(
        `${where}.volumeMounts[${mount.name}].mountPropagation: "${mount.mountPropagation}" is not supported on a rented machine; remove it`,
      );
  }
  if (container.securityContext?.privileged === true)
    issues.push(`${where}.securityContext.privileged: a rented container cannot be privileged; remove it`);
  for (const port of container.ports ?? []) {
    if (port.hostPort !== undefined && port.hostPort !== 0)
      issues.push(
        `${where}.ports[${port.containerPort}].hostPort: a rented machine's ports are not the cluster's; remove hostPort (Services reach the pod through the gateway)`,
      );
  }
  return issues;
}

/**
 * The volume the ServiceAccount admission plugin adds to every pod (`kube-api-access-<suffix>`:
 * the token, the cluster CA and the namespace). It is not given to a rented machine (the host is
 * untrusted and cannot reach the API server); its mounts are skipped, with an advisory event,
 * instead of refusing every pod that did not set automountServiceAccountToken: false.
 */
export function isServiceAccountVolume(volume: V1Volume): boolean {
  if (!volume.name.startsWith('kube-api-access-') || volume.projected === undefined) return false;
  const sources = volume.projected.sources ?? [];
  return (
    sources.some((s) => s.serviceAccountToken !== undefined) &&
    sources.every(
      (s) =>
        s.serviceAccountToken !== undefined ||
        s.configMap?.name === 'kube-root-ca.crt' ||
        (s.downwardAPI !== undefined &&
          (s.downwardAPI.items ?? []).every((i) => i.fieldRef?.fieldPath === 'metadata.namespace')),
    )
  );
}
