import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ENV } from '../../functions/support/env.ts';
import { METRICS } from '../../functions/support/metrics.ts';
import { TABLE } from '../../lib/state/table.ts';
import { logicalId, resourcesOf, synthStack } from './stack-fixture.ts';

const { stack, template } = synthStack();
const ids = {
  table: logicalId(stack, stack.table.table),
  reconcilerSecret: logicalId(stack, stack.secret.secrets.reconciler),
  agentSecret: logicalId(stack, stack.secret.secrets.agent),
  webhookSecret: logicalId(stack, stack.secret.secrets.webhook),
  queue: logicalId(stack, stack.queue.queue),
  dlq: logicalId(stack, stack.queue.deadLetterQueue),
  tick: logicalId(stack, stack.functions.tick.function),
  podEvents: logicalId(stack, stack.functions.podEvents.function),
  admission: logicalId(stack, stack.functions.admission.function),
  agent: logicalId(stack, stack.functions.agent.function),
};

/** The resolved ARN of one uploaded agent binary. */
function agentBinaryArn(name: 'agent' | 'wireproxy' | 'wstunnel', arch: 'amd64' | 'arm64'): unknown {
  const asset = stack.agentBinaries.assets[name][arch];
  return stack.resolve(asset.bucket.arnForObjects(asset.s3ObjectKey));
}

function functionProps(name: keyof typeof stack.functions): Record<string, unknown> {
  const fn = resourcesOf(template, 'AWS::Lambda::Function')[ids[name]];
  if (fn === undefined) throw new Error(`no function ${name}`);
  return fn.Properties;
}

/** The statements of the inline policy attached to a function's role. */
function statementsOf(
  name: keyof typeof stack.functions,
): { Action: string | string[]; Resource: unknown }[] {
  const roleId = logicalId(stack, stack.functions[name].role);
  const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`),
  );
  const [policy, ...others] = policies;
  if (policy === undefined || others.length > 0) throw new Error(`expected one policy for ${name}`);
  return (policy.Properties.PolicyDocument as { Statement: never[] }).Statement;
}

describe('AnexStack: state table', () => {
  it('is keyed, billed and expired as lib/state/table.ts says', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('can be made disposable through context', () => {
    const disposable = synthStack({ 'anex:retainTable': 'false' }).template;
    disposable.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('AnexStack: functions', () => {
  it.each(['tick', 'podEvents', 'admission', 'agent'] as const)(
    '%s runs Node.js 24 on arm64 from an ESM bundle',
    (name) => {
      expect(functionProps(name)).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    },
  );

  it.each([
    ['podEvents', true],
    ['admission', true],
    ['agent', true],
    ['tick', false],
  ] as const)('%s maps stack traces to sources at run time: %s (not at 128 MB)', (name, enabled) => {
    const env = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.NODE_OPTIONS === '--enable-source-maps').toBe(enabled);
  });

  it('maps tick’s stack traces too once it has more than 128 MB', () => {
    const big = synthStack({ 'anex:tickMemorySize': '192' });
    const tick = resourcesOf(big.template, 'AWS::Lambda::Function')[
      logicalId(big.stack, big.stack.functions.tick.function)
    ];
    expect(tick?.Properties).toMatchObject({
      MemorySize: 192,
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  it('runs one tick at a time, ending before the next is due (timeout 55 s), and never replays one', () => {
    expect(functionProps('tick')).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Timeout: 55,
      MemorySize: 128,
    });
    expect(functionProps('tick')).toMatchObject({
      Environment: { Variables: { [FUNCTION_ENV.tickWindowSeconds]: '50' } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.tick },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('lets small accounts reserve no concurrency for tick', () => {
    const small = synthStack({ 'anex:tickReservedConcurrency': '0' });
    const tick = resourcesOf(small.template, 'AWS::Lambda::Function')[
      logicalId(small.stack, small.stack.functions.tick.function)
    ];
    expect(tick?.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it.each([
    ['tick', [FUNCTION_ENV.tableName, FUNCTION_ENV.reconcilerSecretArn, 'ANEX_AGENT_ENDPOINT_URL']],
    ['podEvents', [FUNCTION_ENV.tableName, FUNCTION_ENV.reconcilerSecretArn, 'ANEX_AGENT_ENDPOINT_URL']],
    ['admission', [FUNCTION_ENV.webhookSecretArn, FUNCTION_ENV.queueUrl]],
    ['agent', [FUNCTION_ENV.tableName, FUNCTION_ENV.agentSecretArn, FUNCTION_ENV.queueUrl]],
  ] as const)('%s is told where its resources are (%j)', (name, variables) => {
    const env = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
    for (const variable of variables) expect(env).toHaveProperty(variable);
  });

  it.each([
    ['tick', FUNCTION_ENV.reconcilerSecretArn, ids.reconcilerSecret],
    ['podEvents', FUNCTION_ENV.reconcilerSecretArn, ids.reconcilerSecret],
    ['admission', FUNCTION_ENV.webhookSecretArn, ids.webhookSecret],
    ['agent', FUNCTION_ENV.agentSecretArn, ids.agentSecret],
  ] as const)('%s is told of exactly one secret: %s', (name, variable, secret) => {
    const env = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
    const secretVariables = Object.keys(env).filter((key) => key.endsWith('_SECRET_ARN'));
    expect(secretVariables).toEqual([variable]);
    expect(env[variable]).toEqual({ Ref: secret });
  });

  it.each([
    ['admission', 10],
    ['agent', 10],
  ] as const)('reserves concurrency for the public %s function (%i by default)', (name, reserved) => {
    expect(functionProps(name)).toMatchObject({ ReservedConcurrentExecutions: reserved });
  });

  it('leaves pod-events unreserved (its SQS maxConcurrency bounds it)', () => {
    expect(functionProps('podEvents')).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it.each([
    ['25', 25],
    ['0', undefined],
  ] as const)('takes anex:publicReservedConcurrency=%s (0 reserves nothing)', (value, expected) => {
    const custom = synthStack({ 'anex:publicReservedConcurrency': value });
    for (const name of ['admission', 'agent'] as const) {
      const fn = resourcesOf(custom.template, 'AWS::Lambda::Function')[
        logicalId(custom.stack, custom.stack.functions[name].function)
      ];
      expect(fn?.Properties.ReservedConcurrentExecutions).toBe(expected);
    }
  });

  it('tells only the agent where the self-built binaries are, with the build checksums', () => {
    const envOf = (name: keyof typeof stack.functions) =>
      (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
    const value = JSON.stringify(envOf('agent')[FUNCTION_ENV.agentBinaries]);
    const { manifest, assets } = stack.agentBinaries;
    expect(manifest.binaries.wireproxy.version).toBe('v1.0.9-anex1');
    for (const name of ['agent', 'wireproxy', 'wstunnel'] as const) {
      for (const arch of ['amd64', 'arm64'] as const) {
        expect(value).toContain(manifest.binaries[name].assets[arch].sha256);
        expect(value).toContain(String(stack.resolve(assets[name][arch].s3ObjectKey)));
      }
    }
    for (const name of ['tick', 'podEvents', 'admission'] as const) {
      expect(envOf(name)).not.toHaveProperty(FUNCTION_ENV.agentBinaries);
    }
    // The passes bake the agent's checksums into every launch stub; they need nothing else.
    for (const name of ['tick', 'podEvents'] as const) {
      expect(JSON.parse(String(envOf(name)[FUNCTION_ENV.agentSha256]))).toEqual({
        amd64: manifest.binaries.agent.assets.amd64.sha256,
        arm64: manifest.binaries.agent.assets.arm64.sha256,
      });
    }
    for (const name of ['admission', 'agent'] as const) {
      expect(envOf(name)).not.toHaveProperty(FUNCTION_ENV.agentSha256);
    }
  });

  it('keeps each function’s logs for a month in its own log group', () => {
    const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
    expect(Object.values(groups).map((g) => g.Properties.RetentionInDays)).toEqual([30, 30, 30, 30]);
    for (const name of ['tick', 'podEvents', 'admission', 'agent'] as const) {
      expect(functionProps(name).LoggingConfig).toEqual({
        LogGroup: { Ref: logicalId(stack, stack.functions[name].logGroup) },
      });
    }
  });

  it('passes reconciler settings and the credentials revision through to every function', () => {
    const { template: custom } = synthStack({
      'anex:logLevel': 'DEBUG',
      'anex:environment': '{"ANEX_CLUSTER_ID":"prod-eu"}',
      'anex:credentialsRevision': '7',
    });
    custom.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
          ANEX_CLUSTER_ID: 'prod-eu',
          ANEX_CREDENTIALS_REVISION: '7',
        }),
      },
    });
  });
});

describe('AnexStack: triggers', () => {
  it('invokes tick every minute through EventBridge Scheduler without retries', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [ids.tick, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it('feeds pod-events from the queue, reporting partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      FunctionName: { Ref: ids.podEvents },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('encrypts both queues, dead-letters after 5 receives, and hides messages 6 × the consumer timeout', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it.each(['queue', 'dlq'] as const)('denies non-TLS access to the %s', (queue) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ids[queue] }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it.each([
    ['TickRoleArn', 'tick'],
    ['PodEventsRoleArn', 'podEvents'],
    ['AgentRoleArn', 'agent'],
  ] as const)('outputs %s for the EKS access entries', (output, name) => {
    const role = logicalId(stack, stack.functions[name].role);
    template.hasOutput(output, { Value: { 'Fn::GetAtt': [role, 'Arn'] } });
  });

  it('exposes admission and agent (only) through public Function URLs', () => {
    const urls = Object.values(resourcesOf(template, 'AWS::Lambda::Url'));
    expect(urls.map((u) => u.Properties.TargetFunctionArn)).toEqual([
      { 'Fn::GetAtt': [ids.admission, 'Arn'] },
      { 'Fn::GetAtt': [ids.agent, 'Arn'] },
    ]);
    expect(urls.map((u) => u.Properties.AuthType)).toEqual(['NONE', 'NONE']);
  });
});

describe('AnexStack: least privilege', () => {
  const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
  const dataActions = expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);

  it.each([
    ['tick', { dynamodb: arn(ids.table), secretsmanager: { Ref: ids.reconcilerSecret } }],
    [
      'podEvents',
      { dynamodb: arn(ids.table), secretsmanager: { Ref: ids.reconcilerSecret }, sqs: arn(ids.queue) },
    ],
    ['admission', { secretsmanager: { Ref: ids.webhookSecret }, sqs: arn(ids.queue) }],
    [
      'agent',
      {
        dynamodb: arn(ids.table),
        secretsmanager: { Ref: ids.agentSecret },
        sqs: arn(ids.queue),
        s3: [
          agentBinaryArn('agent', 'amd64'),
          agentBinaryArn('agent', 'arm64'),
          agentBinaryArn('wireproxy', 'amd64'),
          agentBinaryArn('wireproxy', 'arm64'),
          agentBinaryArn('wstunnel', 'amd64'),
          agentBinaryArn('wstunnel', 'arm64'),
        ],
      },
    ],
  ] as const)('%s may touch exactly its resources (%j)', (name, expected) => {
    const byService: Record<string, unknown> = {};
    for (const statement of statementsOf(name)) {
      const actions = [statement.Action].flat();
      const service = actions[0]?.split(':')[0] ?? '';
      expect(actions.every((a) => a.startsWith(`${service}:`))).toBe(true);
      if (service !== 'logs') byService[service] = statement.Resource;
    }
    expect(byService).toEqual(expected);
  });

  it('lets the agent read exactly the six agent-binary objects, nothing else in S3', () => {
    const s3 = statementsOf('agent').filter((st) => String([st.Action].flat()[0]).startsWith('s3:'));
    expect(s3.map((st) => st.Action)).toEqual(['s3:GetObject']);
    expect([s3[0]?.Resource].flat()).toHaveLength(6);
    for (const name of ['agent', 'wireproxy', 'wstunnel'] as const) {
      for (const arch of ['amd64', 'arm64'] as const) {
        const key = stack.agentBinaries.assets[name][arch].s3ObjectKey;
        expect(JSON.stringify(s3[0]?.Resource)).toContain(`/${stack.resolve(key)}`);
      }
    }
    expect(JSON.stringify(s3[0]?.Resource)).not.toContain('*');
  });

  it('grants item operations only, never table administration or Scan', () => {
    const dynamo = statementsOf('tick').find((s) => String([s.Action].flat()[0]).startsWith('dynamodb:'));
    expect(dynamo?.Action).toEqual(dataActions);
    expect([dynamo?.Action].flat()).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/Scan|DeleteTable|CreateTable|UpdateTable|\*/)]),
    );
  });

  it('writes logs only to the function’s own log group (no managed policy)', () => {
    for (const name of ['tick', 'podEvents', 'admission', 'agent'] as const) {
      const logs = statementsOf(name).find((s) => String([s.Action].flat()[0]).startsWith('logs:'));
      expect(logs?.Resource).toEqual(arn(logicalId(stack, stack.functions[name].logGroup)));
    }
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('has no policy statement on Resource "*"', () => {
    for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
      const statements = (policy.Properties.PolicyDocument as { Statement: { Resource: unknown }[] })
        .Statement;
      for (const statement of statements) expect([statement.Resource].flat()).not.toContain('*');
    }
  });

  it('lets the scheduler invoke the tick function and nothing else', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'lambda:InvokeFunction',
            Effect: 'Allow',
            Resource: [arn(ids.tick), { 'Fn::Join': ['', [arn(ids.tick), ':*']] }],
          },
        ],
      },
    });
  });
});

describe('AnexStack: secrets and alarms', () => {
  it('generates the webhook token into a retained JSON secret of its own', () => {
    const webhook = resourcesOf(template, 'AWS::SecretsManager::Secret')[ids.webhookSecret];
    expect(webhook).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        GenerateSecretString: {
          GenerateStringKey: 'webhookToken',
          SecretStringTemplate: '{}',
          ExcludePunctuation: true,
          PasswordLength: 48,
        },
      },
    });
  });

  it('splits the credentials into three retained secrets, one per consumer', () => {
    const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret');
    expect(Object.keys(secrets).sort()).toEqual(
      [ids.agentSecret, ids.reconcilerSecret, ids.webhookSecret].sort(),
    );
    for (const id of [ids.reconcilerSecret, ids.agentSecret]) {
      // An empty JSON object for the operator to fill in: nothing secret in the template.
      expect(secrets[id]).toMatchObject({ DeletionPolicy: 'Retain', Properties: { SecretString: '{}' } });
    }
  });

  it.each([
    ['reconciler', ['tick', 'podEvents']],
    ['agent', ['agent']],
    ['webhook', ['admission']],
  ] as const)('lets only its readers read the %s secret (%j)', (consumer, readers) => {
    const secretRef = JSON.stringify({ Ref: logicalId(stack, stack.secret.secrets[consumer]) });
    const canRead = (['tick', 'podEvents', 'admission', 'agent'] as const).filter((name) =>
      statementsOf(name).some(
        (st) =>
          [st.Action].flat().includes('secretsmanager:GetSecretValue') &&
          JSON.stringify(st.Resource) === secretRef,
      ),
    );
    expect(canRead).toEqual(readers);
  });

  it('keeps the single secret of earlier releases as the webhook secret (its token survives the upgrade)', () => {
    expect(ids.webhookSecret).toMatch(/^CredentialsSecret[0-9A-F]{8}$/);
    const named = synthStack({ 'anex:secretName': 'anex-prod' });
    const names = Object.values(resourcesOf(named.template, 'AWS::SecretsManager::Secret')).map(
      (r) => r.Properties.Name,
    );
    expect(names.sort()).toEqual(['anex-prod', 'anex-prod-agent', 'anex-prod-reconciler']);
  });

  it.each([
    ['Errors', 'AWS/Lambda', 4],
    ['ApproximateNumberOfMessagesVisible', 'AWS/SQS', 1],
    [METRICS.leakedInstances, METRICS.namespace, 1],
    [METRICS.authFailures, METRICS.namespace, 1],
  ] as const)('alarms on %s (%s) × %i', (metricName, namespace, count) => {
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === metricName && a.Properties.Namespace === namespace,
    );
    expect(alarms).toHaveLength(count);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on leaked instances only when they persist for 3 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRICS.leakedInstances,
      Period: 60,
      EvaluationPeriods: 3,
    });
  });

  it('notifies an SNS topic when one is configured', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const { template: withTopic } = synthStack({ 'anex:alarmTopicArn': topicArn });
    withTopic.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [topicArn],
      OKActions: [topicArn],
    });
  });
});
