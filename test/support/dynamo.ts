import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../lib/state/embedded-dynamo.ts';
import { tableDefinition } from '../../lib/state/table.ts';
import { TestGroundError } from './errors.ts';
import { waitUntil } from './processes.ts';

/** Connection data of the run's dynalite server; plain data (crosses vitest's `provide`). */
export interface DynamoInfo {
  endpoint: string;
  region: string;
}

const REGION = 'us-east-1';

/** Starts the run's in-memory dynalite on a free loopback port; failure names the part. */
export async function startTestDynamo(): Promise<{ info: DynamoInfo; server: EmbeddedDynamo }> {
  try {
    const server = await startEmbeddedDynamo();
    return { info: { endpoint: server.endpoint, region: REGION }, server };
  } catch (error) {
    throw new TestGroundError('dynalite', `could not start: ${(error as Error).message}`, { cause: error });
  }
}

/** The real AWS SDK client pointed at the server, with dummy credentials (dynalite ignores them). */
export function dynamoClientFor(info: DynamoInfo): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: info.endpoint,
    region: info.region,
    credentials: { accessKeyId: 'anex-test', secretAccessKey: 'anex-test' },
  });
}

/**
 * Creates a table from lib/state/table.ts `tableDefinition()` (the definition the CDK stack
 * uses) and waits until it is ACTIVE. The default name is unique, so tests do not share data.
 */
export async function createTable(client: DynamoDBClient, tableName = uniqueTableName()): Promise<string> {
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  await waitUntil(
    async () => {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      return Table?.TableStatus === 'ACTIVE';
    },
    { what: `DynamoDB table ${tableName} ACTIVE`, timeoutMs: 10_000, intervalMs: 20 },
  );
  return tableName;
}

export function uniqueTableName(prefix = 'anex-test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
