import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { SECRET_LAYOUT, type SecretConsumer } from '../../functions/support/secret-layout.ts';

export interface CredentialsSecretProps {
  /**
   * The webhook secret's name; the others are `<name>-reconciler` and `<name>-agent`. The
   * webhook secret keeps the name, the construct id and so the token of the single secret of
   * earlier releases (docs/deploy.md "Upgrading to split secrets").
   * @default generated names
   */
  readonly secretName?: string;
}

/**
 * One secret per consumer (ADR 0022): the public functions never hold the provider API keys
 * or the reconciler's cluster credential, so a bug in code that parses untrusted input cannot
 * leak them. Three secrets cost $1.20/month instead of $0.40; each is granted to its readers
 * only ({@link grantRead}). Read once per cold start by the composition root; never logged.
 */
export class CredentialsSecret extends Construct {
  readonly secrets: { readonly [C in SecretConsumer]: secretsmanager.Secret };

  constructor(scope: Construct, id: string, props: CredentialsSecretProps = {}) {
    super(scope, id);
    const named = (consumer: SecretConsumer) => {
      if (props.secretName === undefined) return {};
      return { secretName: consumer === 'webhook' ? props.secretName : `${props.secretName}-${consumer}` };
    };
    const secret = (consumer: SecretConsumer, generate?: secretsmanager.SecretStringGenerator) =>
      new secretsmanager.Secret(this, CONSTRUCT_IDS[consumer], {
        ...named(consumer),
        description: `anex ${consumer} secret, read by ${SECRET_LAYOUT[consumer].readers.join(' and ')} only (JSON keys: ${SECRET_LAYOUT[consumer].keys.join(', ')})`,
        // The operator fills in the keys (docs/deploy.md); an empty object parses as "not configured yet".
        ...(generate === undefined ? { secretObjectValue: {} } : { generateSecretString: generate }),
        // API keys cannot be recreated from AWS: keep them if the stack is deleted by mistake.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.secrets = {
      reconciler: secret('reconciler'),
      agent: secret('agent'),
      webhook: secret('webhook', {
        // Only the webhook token is generated (URL-safe; the webhook URL's path carries it).
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'webhookToken',
        excludePunctuation: true,
        includeSpace: false,
        passwordLength: 48,
      }),
    };
    for (const consumer of ['reconciler', 'agent'] as const) {
      Validations.of(this.secrets[consumer]).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Holds third-party API keys (Vast.AI, RunPod) or a Kubernetes ServiceAccount token that AWS cannot ' +
          'rotate; docs/deploy.md describes manual rotation (new key, put-secret-value, next cold start picks it up).',
      });
    }
    Validations.of(this.secrets.webhook).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The webhook token is also written into the cluster (ValidatingWebhookConfiguration URL); a rotation must ' +
        're-apply `anex manifests` with the new token, so it is rotated by hand (docs/deploy.md).',
    });
  }

  /** Lets `grantee` read `consumer`'s secret, and only that one. */
  grantRead(consumer: SecretConsumer, grantee: iam.IGrantable): void {
    this.secrets[consumer].grantRead(grantee);
  }
}

/** `Secret` is the single secret of earlier releases: kept for the webhook, whose token it generated. */
const CONSTRUCT_IDS: Readonly<Record<SecretConsumer, string>> = {
  reconciler: 'Reconciler',
  agent: 'Agent',
  webhook: 'Secret',
};
