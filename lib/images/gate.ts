import type { ContainerView } from '../kube/cluster.ts';
import type { ImageGate } from '../reconcile/image-gate.ts';
import type { RegistryClient } from './client.ts';
import { type EffectiveCommand, effectiveCommand } from './config.ts';
import type { RegistryAuth } from './pull-secrets.ts';
import { parseImageRef } from './reference.ts';

/** What a container runs, once its image config is known; `refused` as the gate words it. */
export type ResolvedCommand =
  | ({ outcome: 'ok' } & EffectiveCommand)
  | Exclude<Awaited<ReturnType<ImageGate>>, { outcome: 'ok' }>;

/**
 * The image check before renting (lib/reconcile/image-gate.ts) over a registry: the image
 * exists, has a linux/<arch> variant, and the container has something to run once Kubernetes'
 * command rules are applied over the image's ENTRYPOINT and CMD.
 */
export function registryImageGate(client: RegistryClient): ImageGate {
  return async (container, options) => {
    const resolved = await resolveCommand(client, container, options);
    return resolved.outcome === 'ok' ? { outcome: 'ok' } : resolved;
  };
}

/** The container's effective argv and workingDir over its image config (the agent runs these). */
export async function resolveCommand(
  client: RegistryClient,
  container: Pick<ContainerView, 'image' | 'command' | 'args' | 'workingDir'>,
  options: { arch: 'amd64' | 'arm64'; signal?: AbortSignal; auth?: RegistryAuth },
): Promise<ResolvedCommand> {
  const ref = parseImageRef(container.image);
  if ('error' in ref) return { outcome: 'refused', reason: 'InvalidImageName', message: ref.error };
  const auth = options.auth?.registry === ref.registry ? options.auth : undefined;
  const found = await client.lookup(ref, options.arch, options.signal, auth);
  switch (found.outcome) {
    case 'unavailable':
      return { outcome: 'retry', message: found.message };
    case 'not-found':
    case 'no-platform':
      return { outcome: 'refused', reason: 'ErrImagePull', message: found.message };
    case 'ok': {
      const command = effectiveCommand(container, found.config);
      if (command.argv.length === 0) {
        return {
          outcome: 'refused',
          reason: 'CreateContainerError',
          message: `image "${container.image}" has no ENTRYPOINT or CMD and the container sets no command: set command (and args)`,
        };
      }
      return { outcome: 'ok', ...command };
    }
  }
}
