import type { ContainerView } from '../kube/cluster.ts';
import type { ImageGate } from '../reconcile/image-gate.ts';
import type { RegistryClient } from './client.ts';
import { type EffectiveCommand, effectiveCommand } from './config.ts';
import type { RegistryAuth } from './keyring.ts';
import { type ImageRef, parseImageRef } from './reference.ts';

/** What a container runs, once its image config is known (and the login that read it); `refused` as the gate words it. */
export type ResolvedCommand =
  | ({ outcome: 'ok'; auth?: RegistryAuth } & EffectiveCommand)
  | Exclude<Awaited<ReturnType<ImageGate>>, { outcome: 'ok' }>;

/**
 * The image check before renting (lib/reconcile/image-gate.ts) over a registry: the image
 * exists, has a linux/<arch> variant, and the container has something to run once Kubernetes'
 * command rules are applied over the image's ENTRYPOINT and CMD.
 */
export function registryImageGate(client: RegistryClient): ImageGate {
  return async (container, options) => {
    const resolved = await resolveCommand(client, container, options);
    if (resolved.outcome !== 'ok') return resolved;
    return resolved.auth === undefined ? { outcome: 'ok' } : { outcome: 'ok', auth: resolved.auth };
  };
}

/**
 * The container's effective argv and workingDir over its image config (the agent runs these).
 * `auths`: the logins the pod's imagePullSecrets hold for the image (lib/images/keyring.ts),
 * tried in order as the kubelet tries them — the first the registry accepts is the one
 * returned; none: an anonymous read.
 */
export async function resolveCommand(
  client: RegistryClient,
  container: Pick<ContainerView, 'image' | 'command' | 'args' | 'workingDir'>,
  options: { arch: 'amd64' | 'arm64'; signal?: AbortSignal; auths?: readonly RegistryAuth[] },
): Promise<ResolvedCommand> {
  const ref = parseImageRef(container.image);
  if ('error' in ref) return { outcome: 'refused', reason: 'InvalidImageName', message: ref.error };
  const auths = (options.auths ?? []).filter((a) => a.registry === ref.registry);
  const found = await lookupWithLogins(client, ref, auths, options);
  switch (found.outcome) {
    case 'unavailable':
      return { outcome: 'retry', message: found.message };
    case 'not-found':
      return {
        outcome: 'refused',
        reason: 'ErrImagePull',
        message: found.denied ? `${found.message}: ${deniedWhy(ref, auths)}` : found.message,
      };
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
      return { outcome: 'ok', ...command, ...(found.auth === undefined ? {} : { auth: found.auth }) };
    }
  }
}

type Found = Awaited<ReturnType<RegistryClient['lookup']>> & { auth?: RegistryAuth };

/** Each login in turn until the registry accepts one (the kubelet's PullImage loop); anonymous when there are none. */
async function lookupWithLogins(
  client: RegistryClient,
  ref: ImageRef,
  auths: readonly RegistryAuth[],
  options: { arch: 'amd64' | 'arm64'; signal?: AbortSignal },
): Promise<Found> {
  if (auths.length === 0) return client.lookup(ref, options.arch, options.signal);
  let last: Found | undefined;
  for (const auth of auths) {
    const found = await client.lookup(ref, options.arch, options.signal, auth);
    if (found.outcome !== 'not-found' || !found.denied) return { ...found, auth };
    last = found;
  }
  return last as Found;
}

/** Why the registry said no, naming the Secrets tried (never their content). */
function deniedWhy(ref: ImageRef, auths: readonly RegistryAuth[]): string {
  if (auths.length === 0)
    return `no imagePullSecret of the pod holds a login for ${ref.registry} (imagePullSecrets missing or wrong?)`;
  const secrets = [...new Set(auths.map((a) => `"${a.secret}"`))].join(', ');
  return `${ref.registry} refused the login from imagePullSecret ${secrets} (imagePullSecrets wrong?)`;
}
