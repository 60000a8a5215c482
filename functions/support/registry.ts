import { RegistryClient } from '../../lib/images/client.ts';
import { resolveCommand } from '../../lib/images/gate.ts';
import { pullCredentials } from '../../lib/images/pull-secrets.ts';
import type { Cluster, ContainerView, PodView } from '../../lib/kube/cluster.ts';

/**
 * The registry the functions read image configs from: each image's own (Docker Hub, GHCR, …),
 * or — tests only — ANEX_REGISTRY_MIRROR, a registry holding every image under
 * `<registry host>/<path>` (the simulated marketplace's). One per warm container: its token
 * and config caches live as long as the container.
 */
export function registryFromEnv(env: NodeJS.ProcessEnv): RegistryClient {
  const mirror = env.ANEX_REGISTRY_MIRROR;
  return new RegistryClient(mirror === undefined || mirror === '' ? {} : { mirror });
}

/**
 * What the agent runs for a container: its command and args over its image's ENTRYPOINT/CMD,
 * the image read with the pod's pull logins, as before renting; undefined when the image
 * cannot be read (the bootstrap then hands over the container's own command and args).
 */
export function commandResolver(
  registry: RegistryClient,
  cluster: Cluster,
): (container: ContainerView, pod: PodView) => Promise<{ argv: readonly string[] } | undefined> {
  return async (container, pod) => {
    const { auths } = await pullCredentials(cluster, pod);
    const resolved = await resolveCommand(registry, container, { arch: 'amd64', auths });
    return resolved.outcome === 'ok' ? { argv: resolved.argv } : undefined;
  };
}
