import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_TICK_WINDOW_SECONDS,
  FUNCTION_ENV,
} from '../functions/support/env.ts';
import { SETTINGS } from '../lib/config/settings.ts';
import { AgentBinaries } from './constructs/agent-binaries.ts';
import { AnexAlarms } from './constructs/anex-alarms.ts';
import { AnexFunction } from './constructs/anex-function.ts';
import { CredentialsSecret } from './constructs/credentials-secret.ts';
import { PodEventQueue } from './constructs/pod-event-queue.ts';
import { StateTable } from './constructs/state-table.ts';
import { TickSchedule } from './constructs/tick-schedule.ts';
import { checkTickTiming } from './tick-timing.ts';

/** lib/config's variable for the agent endpoint URL (ANEX_AGENT_ENDPOINT_URL). */
const AGENT_ENDPOINT_ENV =
  SETTINGS.find((s) => s.key === 'agentEndpointUrl')?.env ?? 'ANEX_AGENT_ENDPOINT_URL';

/** Every setting of a deployment; infra/settings.ts maps `cdk -c anex:<name>=...` onto these. */
export interface AnexStackProps extends StackProps {
  /** @default a generated name */
  readonly tableName?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * The webhook secret's name; the reconciler's and the agent's are `<name>-reconciler` and
   * `<name>-agent` (infra/constructs/credentials-secret.ts).
   * @default generated names
   */
  readonly secretName?: string;
  /**
   * tick memory (MB). tick runs ~`tickWindowSeconds` every minute, so this sets most of the
   * idle cost (docs/cost.md); its work is mostly waiting on HTTP.
   * @default 128
   */
  readonly tickMemorySize?: number;
  /**
   * tick's hard timeout; the handler stops starting new work 5 s before it. With reserved
   * concurrency 1 it must end before the next minute's tick is due (≤ 55 s, infra/tick-timing.ts),
   * else that tick is throttled and the node leases go unrenewed.
   * @default Duration.seconds(55)
   */
  readonly tickTimeout?: Duration;
  /**
   * How long each tick keeps renewing the node leases (every ~10 s) before returning. With a
   * 1-minute schedule, 50 s leaves at most ~25 s between renewals (last at 40 s, next at
   * 60 s + up to 5 s start delay), inside the 40 s Lease and the node monitor grace period
   * (50 s on Kubernetes ≥ 1.32). Checked at synth (infra/tick-timing.ts).
   * @default 50
   */
  readonly tickWindowSeconds?: number;
  /**
   * Reserved concurrency of tick (one tick at a time; passes are also safe concurrently
   * thanks to the tick lease in the table). Set 0 to reserve nothing — needed on accounts
   * whose concurrency limit is still the new-account 10, where any reservation fails.
   * @default 1
   */
  readonly tickReservedConcurrency?: number;
  /**
   * Reserved concurrency of each public function (admission, agent): a flood of calls to
   * their Function URLs is throttled there (HTTP 429) instead of taking the account's
   * concurrency from tick, pod-events and every other function. AWS refuses a reservation
   * that leaves less than 100 unreserved in the account (tick 1 + 2 × this must fit), so
   * accounts with a low concurrency limit set 0 to reserve nothing.
   * @default 10
   */
  readonly publicReservedConcurrency?: number;
  /**
   * Memory (MB) of pod-events, admission and agent. They run only on demand.
   * @default 256
   */
  readonly functionMemorySize?: number;
  /** @default Duration.seconds(30) */
  readonly podEventsTimeout?: Duration;
  /** @default 10 */
  readonly podEventsBatchSize?: number;
  /**
   * Most pod-events invocations at once (bounds load on the provider APIs).
   * @default 2
   */
  readonly podEventsMaxConcurrency?: number;
  /** @default 5 */
  readonly maxReceiveCount?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default undefined (alarms without notifications) */
  readonly alarmTopicArn?: string;
  /** @default true */
  readonly scheduleEnabled?: boolean;
  /**
   * Reconciler settings (lib/config environment variables) given to every function.
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Any label; changing it redeploys every function, so warm containers (which read the
   * secret once per cold start) pick up rotated credentials.
   * @default undefined
   */
  readonly credentialsRevision?: string;
}

/**
 * The serverless anex: state table, credentials secret, per-pod queue + DLQ, the four
 * functions (tick, pod-events, admission, agent), the schedule, two Function URLs and alarms.
 */
export class AnexStack extends Stack {
  readonly table: StateTable;
  /** one secret per consumer: reconciler (tick, pod-events), agent, webhook (ADR 0022) */
  readonly secret: CredentialsSecret;
  readonly queue: PodEventQueue;
  readonly functions: Readonly<Record<'tick' | 'podEvents' | 'admission' | 'agent', AnexFunction>>;
  readonly admissionUrl: lambda.FunctionUrl;
  readonly agentUrl: lambda.FunctionUrl;
  readonly agentBinaries: AgentBinaries;

  constructor(scope: Construct, id: string, props: AnexStackProps = {}) {
    super(scope, id, props);
    this.table = new StateTable(this, 'State', {
      ...(props.tableName === undefined ? {} : { tableName: props.tableName }),
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.secret = new CredentialsSecret(this, 'Credentials', {
      ...(props.secretName === undefined ? {} : { secretName: props.secretName }),
    });
    const podEventsTimeout = props.podEventsTimeout ?? Duration.seconds(30);
    this.queue = new PodEventQueue(this, 'PodEvents', {
      visibilityTimeout: Duration.seconds(podEventsTimeout.toSeconds() * 6),
      maxReceiveCount: props.maxReceiveCount ?? 5,
    });
    this.functions = this.createFunctions(props, podEventsTimeout);
    this.grantAccess();
    // The agent function hands out anex's agent and its helpers at presigned URLs (ADRs 0008,
    // 0010); the passes pin the agent's checksums in every launch stub.
    this.agentBinaries = new AgentBinaries(this, 'AgentBinaries');
    this.agentBinaries.serveFrom(this.functions.agent.function);
    this.agentBinaries.pinAgentFor(this.functions.tick.function);
    this.agentBinaries.pinAgentFor(this.functions.podEvents.function);
    this.connectTriggers(props);
    this.admissionUrl = this.publicUrl('admission', 'Kubernetes API server (ValidatingWebhookConfiguration)');
    this.agentUrl = this.publicUrl('agent', 'the anex agent on rented machines (bootstrap token)');
    // The passes put the agent endpoint into each instance's launch spec.
    for (const fn of [this.functions.tick, this.functions.podEvents]) {
      if (props.environment?.[AGENT_ENDPOINT_ENV] === undefined) {
        fn.function.addEnvironment(AGENT_ENDPOINT_ENV, this.agentUrl.url);
      }
    }
    new AnexAlarms(this, 'Alarms', {
      functions: Object.fromEntries(Object.entries(this.functions).map(([name, fn]) => [name, fn.function])),
      deadLetterQueue: this.queue.deadLetterQueue,
      ...(props.alarmTopicArn === undefined ? {} : { alarmTopicArn: props.alarmTopicArn }),
    });
    this.outputs();
  }

  private createFunctions(props: AnexStackProps, podEventsTimeout: Duration): AnexStack['functions'] {
    const common = {
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      memorySize: props.functionMemorySize ?? 256,
    };
    const env = (extra: Record<string, string>) => ({
      ...extra,
      ...(props.credentialsRevision === undefined
        ? {}
        : { ANEX_CREDENTIALS_REVISION: props.credentialsRevision }),
      ...props.environment,
    });
    const reserved = props.tickReservedConcurrency ?? 1;
    const publicReserved = props.publicReservedConcurrency ?? 10;
    // Unset when 0: Lambda's ReservedConcurrentExecutions 0 would mean "never run".
    const publicConcurrency = publicReserved > 0 ? { reservedConcurrentExecutions: publicReserved } : {};
    const { secrets } = this.secret;
    const tickTimeout = props.tickTimeout ?? Duration.seconds(55);
    checkTickTiming({
      windowSeconds: props.tickWindowSeconds ?? DEFAULT_TICK_WINDOW_SECONDS,
      timeoutSeconds: tickTimeout.toSeconds(),
      deadlineMarginSeconds: DEFAULT_DEADLINE_MARGIN_MS / 1000,
      reservedConcurrency: reserved,
      environment: props.environment ?? {},
    });
    const tick = new AnexFunction(this, 'Tick', {
      ...definedOnly(common),
      entryName: 'tick',
      description: 'anex: node heartbeat loop + full reconcile pass (every minute)',
      memorySize: props.tickMemorySize ?? 128,
      // At 128 MB every MB counts: measured RSS after import is ~105 MB without source maps,
      // ~118 MB with them (docs/cost.md). Traces stay mappable offline with the shipped .map.
      enableSourceMaps: (props.tickMemorySize ?? 128) > 128,
      timeout: tickTimeout,
      ...(reserved > 0 ? { reservedConcurrentExecutions: reserved } : {}),
      environment: env({
        [FUNCTION_ENV.tableName]: this.table.table.tableName,
        [FUNCTION_ENV.reconcilerSecretArn]: secrets.reconciler.secretArn,
        [FUNCTION_ENV.tickWindowSeconds]: String(props.tickWindowSeconds ?? DEFAULT_TICK_WINDOW_SECONDS),
      }),
    });
    const podEvents = new AnexFunction(this, 'PodEventsFn', {
      ...definedOnly(common),
      entryName: 'pod-events',
      description: 'anex: per-pod reconcile pass (SQS)',
      timeout: podEventsTimeout,
      environment: env({
        [FUNCTION_ENV.tableName]: this.table.table.tableName,
        [FUNCTION_ENV.reconcilerSecretArn]: secrets.reconciler.secretArn,
      }),
    });
    const admission = new AnexFunction(this, 'Admission', {
      ...definedOnly(common),
      entryName: 'admission',
      description:
        'anex: admission webhooks for anex pods (validate, enqueue passes; mutate: outage tolerations)',
      timeout: Duration.seconds(10),
      ...publicConcurrency,
      environment: env({
        // the webhook token only: no API key, no cluster credential (ADR 0022)
        [FUNCTION_ENV.webhookSecretArn]: secrets.webhook.secretArn,
        [FUNCTION_ENV.queueUrl]: this.queue.queue.queueUrl,
      }),
    });
    const agent = new AnexFunction(this, 'Agent', {
      ...definedOnly(common),
      entryName: 'agent',
      description: 'anex: tunnel handoff and container status for agents on rented machines',
      timeout: Duration.seconds(15),
      // The runtime is not documented to ship the presigner: bring it (and its S3 client).
      bundleSdkPackages: ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner'],
      ...publicConcurrency,
      environment: env({
        [FUNCTION_ENV.tableName]: this.table.table.tableName,
        // Status reports update Kubernetes directly (ReconcilerAgentBackend) and bootstrap reads
        // env sources: the narrow anex-agent kubeconfig, never the reconciler's or an API key.
        [FUNCTION_ENV.agentSecretArn]: secrets.agent.secretArn,
        // an exit report asks for the pod's pass at once (agent-root.ts passQueue)
        [FUNCTION_ENV.queueUrl]: this.queue.queue.queueUrl,
      }),
    });
    return { tick, podEvents, admission, agent };
  }

  /**
   * Each grant names one resource ARN; nothing account-wide. Each function reads only its own
   * secret (ADR 0022). The agent keeps the whole table: its tokens, addresses, rate-limit
   * buckets and pod records share the key space with no per-caller partition to scope
   * `dynamodb:LeadingKeys` to (the ADR says why).
   */
  private grantAccess(): void {
    const { tick, podEvents, admission, agent } = this.functions;
    for (const fn of [tick, podEvents, agent]) this.table.grantData(fn.role);
    for (const fn of [tick, podEvents]) this.secret.grantRead('reconciler', fn.role);
    this.secret.grantRead('agent', agent.role);
    this.secret.grantRead('webhook', admission.role);
    for (const fn of [admission, agent]) this.queue.queue.grantSendMessages(fn.role);
  }

  private connectTriggers(props: AnexStackProps): void {
    const { tick, podEvents } = this.functions;
    // A throttled or failed tick is not worth replaying: the next minute's tick does it.
    tick.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    new TickSchedule(this, 'TickSchedule', { target: tick.function, enabled: props.scheduleEnabled ?? true });
    podEvents.function.addEventSource(
      new SqsEventSource(this.queue.queue, {
        batchSize: props.podEventsBatchSize ?? 10,
        maxConcurrency: props.podEventsMaxConcurrency ?? 2,
        reportBatchItemFailures: true,
      }),
    );
  }

  private publicUrl(name: 'admission' | 'agent', caller: string): lambda.FunctionUrl {
    const fn = this.functions[name];
    const url = fn.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    // Public on purpose; recorded in the construct tree next to the URL.
    fn.node.addMetadata(
      'anex:auth',
      `Function URL auth NONE: ${caller} cannot sign SigV4 requests; the handler authenticates every call.`,
    );
    return url;
  }

  private outputs(): void {
    new CfnOutput(this, 'AdmissionUrl', {
      value: this.admissionUrl.url,
      description:
        'Base of --webhook-url for `anex manifests` (append admit/<webhookToken from the secret>; the mutating webhook gets mutate/<webhookToken>)',
    });
    new CfnOutput(this, 'AgentUrl', {
      value: this.agentUrl.url,
      description: '--agent-url for `anex manifests`',
    });
    new CfnOutput(this, 'ReconcilerSecretArn', {
      value: this.secret.secrets.reconciler.secretArn,
      description: 'Put the provider API keys and the anex kubeconfig here (docs/deploy.md "Secrets")',
    });
    new CfnOutput(this, 'AgentSecretArn', {
      value: this.secret.secrets.agent.secretArn,
      description: 'Put the anex-agent kubeconfig here (docs/deploy.md "Secrets")',
    });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: this.secret.secrets.webhook.secretArn,
      description: 'Holds the generated webhookToken for --webhook-url (docs/deploy.md "Secrets")',
    });
    // The EKS access-entry route maps these roles to Kubernetes groups (docs/deploy.md).
    for (const [name, fn] of [
      ['TickRoleArn', this.functions.tick],
      ['PodEventsRoleArn', this.functions.podEvents],
      ['AgentRoleArn', this.functions.agent],
    ] as const) {
      new CfnOutput(this, name, {
        value: fn.role.roleArn,
        description: 'IAM role to map with `aws eks create-access-entry` (docs/deploy.md "EKS")',
      });
    }
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queue.queueUrl });
  }
}

/** Drops undefined values (exactOptionalPropertyTypes: absent and undefined differ). */
function definedOnly<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
