import type { RegistryAuth } from '../images/keyring.ts';
import type { ContainerView } from '../kube/cluster.ts';

/**
 * The check a pod's image passes before any money is spent: the image exists, has a variant
 * for the machine's architecture, and the container has something to run (Kubernetes command
 * semantics over the image's ENTRYPOINT/CMD). Implemented over the OCI distribution API
 * (lib/images); a test may pass its own.
 *
 * Contract:
 * - `ok` only when a rented machine could start this container;
 * - a refusal carries kubelet's waiting reason for the same failure (`ErrImagePull` for a
 *   missing image or platform, or a registry that refused the pull — then the message says
 *   whether the pod's imagePullSecrets held no login or one that was refused; `InvalidImageName`,
 *   `CreateContainerError` for nothing to run) and a message that names the image;
 * - `auths` are the logins the pod's imagePullSecrets hold for the image, tried in order (the
 *   kubelet's order, lib/images/keyring.ts); `ok` names the one the registry accepted, which
 *   is the one the provider is given;
 * - `retry`: the registry could not be asked (down, rate-limited); nothing is rented this pass,
 *   and the next pass asks again;
 * - it never throws for an expected outcome; it honours `signal`.
 */
export type ImageGate = (
  container: ContainerView,
  options: { arch: 'amd64' | 'arm64'; signal?: AbortSignal; auths?: readonly RegistryAuth[] },
) => Promise<ImageVerdict>;

export type ImageVerdict =
  | { outcome: 'ok'; auth?: RegistryAuth }
  | {
      outcome: 'refused';
      reason: 'ErrImagePull' | 'InvalidImageName' | 'CreateContainerError';
      message: string;
    }
  | { outcome: 'retry'; message: string };
