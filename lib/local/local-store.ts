import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { AnexError } from '../errors.ts';
import { DynamoStore } from '../state/dynamo-store.ts';
import { startEmbeddedDynamo } from '../state/embedded-dynamo.ts';
import { TABLE, tableDefinition } from '../state/table.ts';

export interface LocalStoreOptions {
  /** embedded store on disk here (the default mode) */
  dataDir?: string;
  /** embedded store in memory (the demo): nothing survives the process */
  inMemory?: boolean;
  /** a DynamoDB(-compatible) endpoint instead of the embedded store */
  endpoint?: string;
  /** table name @default "anex" */
  table?: string;
  /** publish the embedded store's endpoint in the data dir so other `anex` commands share it */
  publish?: boolean;
}

export interface LocalStore {
  store: DynamoStore;
  /** for messages: where the state lives (never a credential) */
  where: string;
  close(): Promise<void>;
}

const ENDPOINT_FILE = 'store-endpoint';

/**
 * Opens the state for local mode. The embedded store (dynalite on LevelDB) can be opened by
 * one process at a time, so `anex run` publishes its endpoint in the data dir and the other
 * commands (`bans`, `status`, `explain`) talk to it while it runs — or open the directory
 * themselves when it does not. `--table` without `--endpoint` means real DynamoDB with the
 * AWS SDK's default credentials and region.
 */
export async function openLocalStore(options: LocalStoreOptions): Promise<LocalStore> {
  const table = options.table ?? TABLE.defaultName;
  if (options.endpoint !== undefined || (options.table !== undefined && options.dataDir === undefined)) {
    const client = remoteClient(options.endpoint);
    await ensureTable(client, table, false);
    return {
      store: new DynamoStore({ client, tableName: table }),
      where: `table ${table}${options.endpoint === undefined ? '' : ` at ${options.endpoint}`}`,
      close: async () => client.destroy(),
    };
  }
  if (options.inMemory !== true && options.dataDir !== undefined) {
    const shared = await sharedEndpoint(options.dataDir);
    if (shared !== undefined && options.publish === true) {
      // Two reconcilers on one store would be safe (leases), but the second would lose its
      // store when the first stops: refuse instead.
      throw new AnexError(
        `another anex run is using ${options.dataDir} (its store answers at ${shared}); stop it or pass another --data-dir`,
        { kind: 'invalid-input' },
      );
    }
    if (shared !== undefined)
      return open(shared, table, `${options.dataDir} (served by a running anex run)`, []);
  }
  return openEmbedded(options, table);
}

async function openEmbedded(options: LocalStoreOptions, table: string): Promise<LocalStore> {
  const dataDir = options.inMemory === true ? undefined : options.dataDir;
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const server = await startEmbeddedDynamo(dataDir === undefined ? {} : { dataDir: join(dataDir, 'store') });
  const cleanups: (() => Promise<void>)[] = [];
  if (dataDir !== undefined && options.publish === true) {
    const file = join(dataDir, ENDPOINT_FILE);
    await writeFile(file, server.endpoint, { mode: 0o600 });
    cleanups.push(() => rm(file, { force: true }));
  }
  cleanups.push(() => server.close());
  try {
    return await open(server.endpoint, table, dataDir ?? 'memory', cleanups);
  } catch (error) {
    for (const cleanup of cleanups) await cleanup();
    throw error;
  }
}

async function open(
  endpoint: string,
  table: string,
  where: string,
  cleanups: readonly (() => Promise<void>)[],
): Promise<LocalStore> {
  const client = localClient(endpoint);
  await ensureTable(client, table, true);
  return {
    store: new DynamoStore({ client, tableName: table }),
    where,
    async close() {
      client.destroy();
      for (const cleanup of cleanups) await cleanup();
    },
  };
}

/** The endpoint a running `anex run` published for this data dir, if it answers. */
async function sharedEndpoint(dataDir: string): Promise<string | undefined> {
  const endpoint = await readFile(join(dataDir, ENDPOINT_FILE), 'utf8').catch(() => undefined);
  if (endpoint === undefined || !/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint.trim())) return undefined;
  const client = localClient(endpoint.trim());
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return endpoint.trim();
  } catch {
    return undefined; // a stale file from a process that died: open the directory ourselves
  } finally {
    client.destroy();
  }
}

function localClient(endpoint: string): DynamoDBClient {
  // dynalite ignores credentials, but the SDK insists on some.
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'anex-local', secretAccessKey: 'anex-local' },
    maxAttempts: 2,
  });
}

function remoteClient(endpoint: string | undefined): DynamoDBClient {
  if (endpoint === undefined) return new DynamoDBClient({});
  const hasKeys = process.env.AWS_ACCESS_KEY_ID !== undefined;
  return new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    ...(hasKeys ? {} : { credentials: { accessKeyId: 'anex-local', secretAccessKey: 'anex-local' } }),
  });
}

async function ensureTable(client: DynamoDBClient, table: string, create: boolean): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'ResourceNotFoundException') {
      throw new AnexError(`cannot reach the DynamoDB table ${table}: ${(error as Error).message}`, {
        kind: 'unavailable',
        cause: error,
      });
    }
  }
  if (!create) {
    throw new AnexError(
      `DynamoDB table ${table} does not exist: deploy the stack (docs/deploy.md) or pass the right --table`,
      { kind: 'invalid-input' },
    );
  }
  await client.send(new CreateTableCommand(tableDefinition(table)));
  await untilActive(client, table);
}

/**
 * A new table answers ResourceNotFoundException to writes until it is ACTIVE. dynalite
 * flips CREATING → ACTIVE in a write of its own after the create answer, so on a busy
 * disk the first put could race it (seen once in CI).
 */
async function untilActive(client: DynamoDBClient, table: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new AnexError(`DynamoDB table ${table} is still ${Table?.TableStatus ?? 'unknown'} after 30 s`, {
        kind: 'unavailable',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
