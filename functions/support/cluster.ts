import { KubeConfig } from '@kubernetes/client-node';
import type { Secrets } from '../../lib/config/secrets.ts';
import { AnexError } from '../../lib/errors.ts';
import type { Cluster } from '../../lib/kube/cluster.ts';
import { KubeCluster } from '../../lib/kube/kube-cluster.ts';

/** The Kubernetes client from the secret's kubeconfig (the anex ServiceAccount's token). */
export function clusterFrom(secrets: Secrets): Cluster {
  if (secrets.kubeconfig === undefined) {
    throw new AnexError('the anex secret has no kubeconfig (docs/deploy.md, step 4)', { kind: 'auth' });
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(secrets.kubeconfig.reveal());
  return new KubeCluster({ kubeConfig });
}
