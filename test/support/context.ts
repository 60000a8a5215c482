import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject, onTestFinished } from 'vitest';
import type { ControlPlaneInfo } from './control-plane.ts';
import { createTable, type DynamoInfo, dynamoClientFor } from './dynamo.ts';
import { TestGroundError } from './errors.ts';
import './provided-context.ts';

/** The run's control plane (started by test/support/global-setup.ts). */
export function controlPlane(): ControlPlaneInfo {
  const info = inject('anexControlPlane');
  if (info === undefined) {
    throw new TestGroundError(
      'control plane',
      'nothing provided: run this file in the `integration` project (its globalSetup starts the control plane)',
    );
  }
  return info;
}

/** A fresh admin KubeConfig (system:masters) for the run's control plane. */
export function adminKubeConfig(info: ControlPlaneInfo = controlPlane()): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(info.kubeconfigYaml);
  return kubeConfig;
}

/** Admin KubeConfig whose current context defaults to `namespace` (when given). */
export function kubeConfigFor(namespace?: string): KubeConfig {
  const kubeConfig = adminKubeConfig();
  if (namespace === undefined) return kubeConfig;
  kubeConfig.loadFromOptions({
    clusters: kubeConfig.getClusters(),
    users: kubeConfig.getUsers(),
    contexts: kubeConfig.getContexts().map((context) => ({ ...context, namespace })),
    currentContext: kubeConfig.getCurrentContext(),
  });
  return kubeConfig;
}

export interface TestNamespace {
  readonly name: string;
  /** admin KubeConfig defaulting to this namespace */
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  /** Force-deletes its pods (no kubelet will confirm a graceful delete), then the namespace. */
  remove(): Promise<void>;
}

/**
 * Creates a namespace with a unique name for one test. Called inside a test it is removed
 * when the test finishes; called elsewhere (beforeAll) the caller calls `remove()`.
 */
export async function createTestNamespace(prefix = 'test'): Promise<TestNamespace> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const kubeConfig = kubeConfigFor(name);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'anex.sh/test': 'true' } } } });
  const remove = async (): Promise<void> => {
    await core.deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 });
    await core.deleteNamespace({ name }).catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
  };
  registerCleanup(remove);
  return { name, kubeConfig, core, remove };
}

/** The run's dynalite endpoint and region. */
export function dynamoInfo(): DynamoInfo {
  const info = inject('anexDynamo');
  if (info === undefined) {
    throw new TestGroundError(
      'dynalite',
      'nothing provided: run this file in the `integration` project (its globalSetup starts dynalite)',
    );
  }
  return info;
}

/** A real DynamoDBClient for the run's dynalite (destroyed when the calling test finishes). */
export function testDynamoClient(): DynamoDBClient {
  const client = dynamoClientFor(dynamoInfo());
  registerCleanup(async () => client.destroy());
  return client;
}

/** A fresh table (the CDK stack's definition, unique name) in the run's dynalite. */
export async function createTestTable(client: DynamoDBClient = testDynamoClient()): Promise<string> {
  return createTable(client);
}

function registerCleanup(cleanup: () => Promise<void>): void {
  try {
    onTestFinished(cleanup);
  } catch {
    // Not inside a test (e.g. beforeAll): the caller owns the cleanup.
  }
}
