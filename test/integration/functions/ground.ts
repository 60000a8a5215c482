import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Context } from 'aws-lambda';
import {
  SECRET_CONSUMERS,
  SECRET_LAYOUT,
  type SecretConsumer,
} from '../../../functions/support/secret-layout.ts';
import { PROVIDER_ENV } from '../../../lib/config/secrets.ts';
import { NODE_LEASE_NAMESPACE } from '../../../lib/manifests/rbac.ts';
import { startSimRegistry } from '../../../lib/sim/registry/sim-registry.ts';
import { RunPodSim } from '../../../lib/sim/runpod/runpod-sim.ts';
import { VastAiSim } from '../../../lib/sim/vastai/vastai-sim.ts';
import { DynamoStore } from '../../../lib/state/dynamo-store.ts';
import { adminKubeConfig, createTable, dynamoClientFor, dynamoInfo } from '../../support/index.ts';
import { type SecretsEndpoint, startSecretsEndpoint } from './secrets-endpoint.ts';
import { type AnexServiceAccount, applyAnexServiceAccount } from './service-account.ts';

/**
 * The deployed functions' world on the real parts: the run's kube-apiserver (+ scheduler,
 * controller-manager), reached only with the `anex manifests` ServiceAccount's token; a table
 * in the run's dynalite; the provider simulators; and the stack's secret. The functions'
 * composition roots are configured exactly as the CDK stack does (docs/deploy.md): ANEX_*
 * variables plus one secret JSON per consumer (secret-layout.ts) — read through the real
 * AWS SDK, pointed at the local servers by the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables.
 *
 * The roots are built once per module instance (cold start), so the variables are set before
 * the handler modules are imported (`importHandlers`); vitest gives each test file its own
 * module graph.
 */
export interface FunctionGround {
  clusterId: string;
  nodeNames: { vastai: string; runpod: string };
  vast: VastAiSim;
  runpod: RunPodSim | undefined;
  /** what the functions see (for assertions; the functions build their own) */
  store: DynamoStore;
  tableName: string;
  serviceAccount: AnexServiceAccount;
  secrets: SecretsEndpoint<SecretConsumer>;
  admin: KubeConfig;
  adminCore: CoreV1Api;
  stop(): Promise<void>;
}

export interface FunctionGroundOptions {
  /** also enable RunPod (its own simulator and node) @default false */
  runpod?: boolean;
  /** extra function variables (e.g. the agent endpoint's tunnel settings) */
  env?: Record<string, string>;
  /** extra keys of the reconciler's and the agent's secrets (e.g. wstunnelPathPrefix) */
  secret?: Record<string, string>;
}

export const API_KEYS = { vastai: 'vast-it-key-0123456789', runpod: 'rpa_IT0123456789' } as const;

type Stops = (() => Promise<unknown>)[];

export async function startFunctionGround(options: FunctionGroundOptions = {}): Promise<FunctionGround> {
  const suffix = randomBytes(3).toString('hex');
  const clusterId = `fn-${suffix}`;
  const nodeNames = { vastai: `anex-fn-vastai-${suffix}`, runpod: `anex-fn-runpod-${suffix}` };
  const admin = adminKubeConfig();
  const stops: Stops = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step();
  };
  try {
    const { vast, runpod } = await startSims(options.runpod === true, stops);
    // The functions read image configs before renting: from the simulated marketplace's registry.
    const registry = await startSimRegistry();
    stops.push(() => registry.stop());
    const client: DynamoDBClient = dynamoClientFor(dynamoInfo());
    stops.push(async () => client.destroy());
    const tableName = await createTable(client);
    const serviceAccount = await applyAnexServiceAccount(admin, { nodeNames: Object.values(nodeNames) });
    stops.push(() => serviceAccount.remove());
    stops.push(() => removeNodes(admin, Object.values(nodeNames)));
    // One secret per consumer, as the stack makes them (ADR 0022): the agent gets its own
    // ServiceAccount's kubeconfig and no API key, admission only the webhook token.
    const secrets = await startSecretsEndpoint<SecretConsumer>({
      reconciler: {
        kubeconfig: serviceAccount.kubeconfigYaml,
        [PROVIDER_ENV.vastai.apiKey]: API_KEYS.vastai,
        ...(runpod === undefined ? {} : { [PROVIDER_ENV.runpod.apiKey]: API_KEYS.runpod }),
        ...options.secret,
      },
      agent: { kubeconfig: serviceAccount.agent.kubeconfigYaml, ...options.secret },
      webhook: { webhookToken: randomBytes(24).toString('hex') },
    });
    stops.push(() => secrets.stop());
    const restore = setEnv({
      ...awsVariables(secrets.url),
      ...Object.fromEntries(SECRET_CONSUMERS.map((c) => [SECRET_LAYOUT[c].env, secrets.arns[c]])),
      ANEX_TABLE_NAME: tableName,
      ANEX_CLUSTER_ID: clusterId,
      ANEX_REGISTRY_MIRROR: registry.url,
      ANEX_PROVIDERS: runpod === undefined ? 'vastai' : 'vastai,runpod',
      ANEX_NODE_NAME_VASTAI: nodeNames.vastai,
      ANEX_NODE_NAME_RUNPOD: nodeNames.runpod,
      // the tests' namespaces may rent, enabled explicitly as an operator would (ADR 0019)
      ANEX_RENT_NAMESPACES: '*',
      [PROVIDER_ENV.vastai.url]: vast.url,
      ...(runpod === undefined ? {} : { [PROVIDER_ENV.runpod.url]: runpod.url }),
      ...SHORT_TICK,
      ...options.env,
    });
    stops.push(async () => restore());
    const store = new DynamoStore({ client, tableName });
    const adminCore = admin.makeApiClient(CoreV1Api);
    return {
      clusterId,
      nodeNames,
      vast,
      runpod,
      store,
      tableName,
      serviceAccount,
      secrets,
      admin,
      adminCore,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A short tick: the heartbeat loop ends within a 2 s window, renewing every second; quiet-enough logs. */
const SHORT_TICK = {
  ANEX_TICK_WINDOW_SECONDS: '2',
  ANEX_HEARTBEAT_INTERVAL: '1s',
  ANEX_DEADLINE_MARGIN_MS: '1000',
  POWERTOOLS_SERVICE_NAME: 'anex-it',
  POWERTOOLS_LOG_LEVEL: 'INFO',
} as const;

/**
 * What the Lambda runtime provides (region, credentials) plus the AWS SDK's standard
 * per-service endpoint variables, which point the functions' unchanged clients at dynalite
 * and at the secret's endpoint.
 */
function awsVariables(secretsUrl: string): Record<string, string> {
  return {
    AWS_REGION: dynamoInfo().region,
    AWS_ACCESS_KEY_ID: 'anex-test',
    AWS_SECRET_ACCESS_KEY: 'anex-test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamoInfo().endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
  };
}

/** Seed 7: the market the e2e seed-example test rents from (the seed pods match in it). */
async function startSims(
  withRunpod: boolean,
  stops: Stops,
): Promise<{ vast: VastAiSim; runpod: RunPodSim | undefined }> {
  const vast = new VastAiSim({ seed: 7, apiKeys: [API_KEYS.vastai] });
  await vast.start();
  stops.push(() => vast.stop());
  if (!withRunpod) return { vast, runpod: undefined };
  const runpod = new RunPodSim({ seed: 7, apiKeys: [API_KEYS.runpod] });
  await runpod.start();
  stops.push(() => runpod.stop());
  return { vast, runpod };
}

/** Sets variables for the functions; returns what restores the previous values. */
function setEnv(values: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

async function removeNodes(admin: KubeConfig, names: string[]): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const leases = admin.makeApiClient(CoordinationV1Api);
  const ignore = (error: { code?: number }) => {
    if (error.code !== 404) throw error;
  };
  for (const name of names) {
    await core.deleteNode({ name }).catch(ignore);
    await leases.deleteNamespacedLease({ name, namespace: NODE_LEASE_NAMESPACE }).catch(ignore);
  }
}

/** A handler as the Lambda runtime calls it. */
export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** Live simulator instances tagged for this ground's cluster. */
export function liveInstances(ground: FunctionGround): { id: string; label: string; state: string }[] {
  const sims = [ground.vast, ...(ground.runpod === undefined ? [] : [ground.runpod])];
  return sims
    .flatMap((sim) => sim.liveInstances())
    .filter((i) => i.label.startsWith(`anex.${ground.clusterId}.`));
}
