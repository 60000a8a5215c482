import { KubeConfig } from '@kubernetes/client-node';
import type { Secrets } from '../../lib/config/secrets.ts';
import { AnexError } from '../../lib/errors.ts';
import type { Cluster } from '../../lib/kube/cluster.ts';
import { KubeCluster } from '../../lib/kube/kube-cluster.ts';
import { withEksAuth } from './eks-token.ts';

/**
 * The Kubernetes client from the secret's kubeconfig: a ServiceAccount token, or on EKS an
 * `aws eks get-token` user, whose token the function signs with its IAM role.
 */
export function clusterFrom(secrets: Secrets): Cluster {
  if (secrets.kubeconfig === undefined) {
    throw new AnexError('the anex secret has no kubeconfig (docs/deploy.md, step 4)', { kind: 'auth' });
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(secrets.kubeconfig.reveal());
  // An `aws eks get-token` user signs its own short-lived token (EKS access entries, ADR 0022).
  return new KubeCluster({ kubeConfig: withEksAuth(kubeConfig, { env: process.env }) });
}
