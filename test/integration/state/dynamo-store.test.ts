import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { DynamoStore } from '../../../lib/state/dynamo-store.ts';
import { tableDefinition } from '../../../lib/state/table.ts';
import { describeStoreContract } from '../../unit/state/store-contract.ts';

// A real DynamoDB-compatible server (dynalite) over HTTP, driven by the real AWS SDK.
// Started here until test/support/dynamo.ts lands; one server, one fresh table per test.
interface DynaliteServer {
  listen(port: number, host: string, callback: (error?: Error) => void): void;
  close(callback: () => void): void;
  address(): AddressInfo;
}
const dynalite = createRequire(import.meta.url)('dynalite') as (options: object) => DynaliteServer;

let server: DynaliteServer;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) =>
    server.listen(0, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
  );
  client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${server.address().port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function freshStore(): Promise<DynamoStore> {
  const tableName = `anex-test-${++tables}`;
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  // dynalite answers CreateTable while the table is still CREATING (ACTIVE a tick later).
  while (
    (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus !== 'ACTIVE'
  ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return new DynamoStore({ client, tableName });
}

describeStoreContract('DynamoStore over dynalite', freshStore);

describe('DynamoStore', () => {
  it('pages through more than one 1 MB Query page when listing pods', async () => {
    const store = await freshStore();
    const padding = 'x'.repeat(100_000);
    for (let i = 0; i < 12; i++) {
      await store.putPod(
        {
          podUid: `uid-${String(i).padStart(2, '0')}`,
          namespace: 'default',
          name: `p${i}`,
          provider: 'runpod',
          stage: 'pending',
          attempts: 0,
          lastError: padding,
        },
        { expectedVersion: undefined, now: 1 },
      );
    }
    expect((await store.listPods()).map((p) => p.podUid)).toHaveLength(12);
  });

  it('reports a missing table as not-found, naming the table', async () => {
    const store = new DynamoStore({ client, tableName: 'no-such-table' });
    const error = await store.getPod('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnexError);
    expect(error).toMatchObject({ kind: 'not-found', message: expect.stringContaining('no-such-table') });
  });

  it('reports an unreachable endpoint as unavailable and retryable', async () => {
    const unreachable = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const store = new DynamoStore({ client: unreachable, tableName: 'anex' });
    await expect(store.listPods()).rejects.toMatchObject({ kind: 'unavailable', retryable: true });
    unreachable.destroy();
  });

  it('refuses a malformed item with bad-response naming its key', async () => {
    const store = await freshStore();
    await client.send(
      new PutItemCommand({
        TableName: `anex-test-${tables}`,
        Item: { pk: { S: 'POD' }, sk: { S: 'broken' }, podUid: { S: 'broken' }, stage: { S: 'flying' } },
      }),
    );
    await expect(store.getPod('broken')).rejects.toMatchObject({
      kind: 'bad-response',
      message: expect.stringContaining('POD/broken'),
    });
  });

  it('stores ban expiry as a ttl in epoch seconds for DynamoDB clean-up', async () => {
    const store = await freshStore();
    await store.putBan({
      provider: 'vastai',
      machineId: 'm1',
      expiresAt: 1_800_000_000_500,
      reason: 'x',
      createdAt: 1,
    });
    const { Items } = await client.send(new ScanCommand({ TableName: `anex-test-${tables}` }));
    expect(Items?.[0]?.ttl).toEqual({ N: '1800000001' });
  });
});
