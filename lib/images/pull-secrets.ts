import { isAnexError } from '../errors.ts';
import type { Cluster, PodView } from '../kube/cluster.ts';
import { credentialsFor, keyringOf, type PullSecret, type RegistryAuth } from './keyring.ts';
import { formatImageRef, parseImageRef } from './reference.ts';

export type { RegistryAuth } from './keyring.ts';

/** What a pod's imagePullSecrets give for its image, as the kubelet would use them. */
export interface PullCredentials {
  /** the logins to try for the image, in the kubelet's order (lib/images/keyring.ts); empty: anonymous */
  auths: RegistryAuth[];
  /** pull Secrets that could not be read: the kubelet goes on without them and warns (names only) */
  missing: string[];
  /** some of `missing` exist but anex may not read them (RBAC): the namespace to give it */
  forbidden?: string;
  /**
   * A pull Secret whose docker config cannot be read: the kubelet fails the pull with it
   * (ErrImagePull). Names the image and the Secret, never its content.
   */
  error?: string;
}

/**
 * Reads the pod's imagePullSecrets (kubelet `getPullSecretsForPod`: empty names skipped, a
 * Secret that cannot be got is skipped and named) and picks the logins for the image of its
 * first container, the one the machine pulls. Nothing read is kept: the caller holds the
 * logins for one pass (the image check, the provider's create) and drops them.
 */
export async function pullCredentials(cluster: Cluster, pod: PodView): Promise<PullCredentials> {
  const secrets: PullSecret[] = [];
  const missing: string[] = [];
  let forbidden: string | undefined;
  for (const name of pod.imagePullSecrets ?? []) {
    if (name === '') continue;
    const read = await cluster.readPullSecret(pod.namespace, name).catch((error: unknown) => {
      if (isAnexError(error) && error.kind === 'auth') forbidden = pod.namespace;
      return undefined;
    });
    if (read === undefined) missing.push(name);
    else secrets.push({ namespace: pod.namespace, name, ...read });
  }
  const found: PullCredentials = { auths: [], missing, ...(forbidden === undefined ? {} : { forbidden }) };
  const ref = parseImageRef(pod.containers[0]?.image ?? '');
  if ('error' in ref || secrets.length === 0) return found;
  const keyring = keyringOf(secrets);
  if (!keyring.ok) {
    return {
      ...found,
      error: `failed to pull image "${formatImageRef(ref)}": imagePullSecret "${keyring.secret}": ${keyring.message}`,
    };
  }
  return { ...found, auths: credentialsFor(keyring.keyring, ref) };
}
