import { type AddressInfo, createServer, type Socket } from 'node:net';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnexError } from '../../../lib/errors.ts';
import { createDynamoClient } from '../../../lib/state/dynamo-client.ts';
import { DynamoStore } from '../../../lib/state/dynamo-store.ts';
import { createTable, dynamoClientFor, dynamoInfo } from '../../support/index.ts';
import { describeStoreContract } from '../../unit/state/store-contract.ts';

// A real DynamoDB-compatible server (the run's dynalite, test/support) over HTTP, driven by
// the real AWS SDK; a fresh table per test, from the same definition as the CDK stack.
let client: DynamoDBClient;
let lastTable = '';

beforeAll(() => {
  client = dynamoClientFor(dynamoInfo());
});

afterAll(() => {
  client?.destroy();
});

async function freshStore(): Promise<DynamoStore> {
  lastTable = await createTable(client);
  return new DynamoStore({ client, tableName: lastTable });
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
        TableName: lastTable,
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
    const { Items } = await client.send(new ScanCommand({ TableName: lastTable }));
    expect(Items?.[0]?.ttl).toEqual({ N: '1800000001' });
  });

  it('times out on a server that never answers, as a retryable timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket); // accept and say nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hung = createDynamoClient({
      endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestTimeoutMs: 300,
      maxAttempts: 1,
    });
    try {
      await expect(new DynamoStore({ client: hung, tableName: 'anex' }).getPod('x')).rejects.toMatchObject({
        kind: 'timeout',
        retryable: true,
      });
    } finally {
      hung.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
