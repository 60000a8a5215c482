import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PROVIDER_ENV } from '../../lib/config/secrets.ts';

/** JSON keys of the secret (docs/deploy.md shows how to fill them). */
export const SECRET_KEYS = {
  /** generated at deploy time; the admission webhook URL's path carries it */
  webhookToken: 'webhookToken',
  /** provider API keys, named as in local mode's environment (lib/config PROVIDER_ENV) */
  vastaiApiKey: PROVIDER_ENV.vastai.apiKey,
  runpodApiKey: PROVIDER_ENV.runpod.apiKey,
  /** a kubeconfig (YAML) for the anex ServiceAccount, from `anex manifests` + its token Secret */
  kubeconfig: 'kubeconfig',
  /** the gateway's wstunnel path prefix (docs/deploy.md "Tunnel settings") */
  wstunnelPathPrefix: 'wstunnelPathPrefix',
} as const;

export interface CredentialsSecretProps {
  /**
   * Secret name. Unset lets CloudFormation generate one.
   * @default a generated name
   */
  readonly secretName?: string;
}

/**
 * One secret for everything sensitive: provider API keys, the cluster credentials and the
 * webhook token. One secret rather than four keeps the idle cost at $0.40/month and the
 * grants to a single ARN. Read once per cold start by the composition root; never logged.
 */
export class CredentialsSecret extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: CredentialsSecretProps = {}) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      ...(props.secretName === undefined ? {} : { secretName: props.secretName }),
      description: 'anex: provider API keys, cluster kubeconfig, admission webhook token (JSON)',
      generateSecretString: {
        // The operator adds the other keys; only the webhook token is generated (URL-safe).
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: SECRET_KEYS.webhookToken,
        excludePunctuation: true,
        includeSpace: false,
        passwordLength: 48,
      },
      // API keys cannot be recreated from AWS: keep them if the stack is deleted by mistake.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Holds third-party API keys (Vast.AI, RunPod) and a Kubernetes ServiceAccount token that AWS cannot ' +
        'rotate; docs/deploy.md describes manual rotation (new key, put-secret-value, next cold start picks it up).',
    });
  }
}
