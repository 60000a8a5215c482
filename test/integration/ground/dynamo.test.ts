import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { TABLE } from '../../../lib/state/table.ts';
import { createTestTable, testDynamoClient } from '../../support/index.ts';

// Proves the run's dynalite speaks the DynamoDB semantics the Store relies on, through the
// real AWS SDK over HTTP, on the table definition the CDK stack uses.
const key = (sk: string) => ({ [TABLE.partitionKey]: { S: 'pod#uid-1' }, [TABLE.sortKey]: { S: sk } });

describe('dynalite test ground', () => {
  it('creates the table from tableDefinition() with its key schema', async () => {
    const client = testDynamoClient();
    const table = await createTestTable(client);
    await client.send(
      new PutItemCommand({ TableName: table, Item: { ...key('intent'), state: { S: 'renting' } } }),
    );
    const { Item } = await client.send(
      new GetItemCommand({ TableName: table, Key: key('intent'), ConsistentRead: true }),
    );
    expect(Item?.state).toEqual({ S: 'renting' });
  });

  it('rejects a second create guarded by attribute_not_exists', async () => {
    const client = testDynamoClient();
    const table = await createTestTable(client);
    const create = () =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: { ...key('intent'), version: { N: '1' } },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        }),
      );
    await create();
    await expect(create()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it.each([
    { expected: 1, accepted: true },
    { expected: 7, accepted: false },
  ])(
    'an UpdateItem with version check against $expected: accepted=$accepted',
    async ({ expected, accepted }) => {
      const client = testDynamoClient();
      const table = await createTestTable(client);
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: { ...key('instance'), version: { N: '1' }, state: { S: 'creating' } },
        }),
      );
      const update = client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key('instance'),
          UpdateExpression: 'SET #state = :state, #version = #version + :one, #ttl = :ttl REMOVE #gone',
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: {
            '#state': 'state',
            '#version': 'version',
            '#ttl': TABLE.ttlAttribute,
            '#gone': 'gone',
          },
          ExpressionAttributeValues: {
            ':state': { S: 'running' },
            ':one': { N: '1' },
            ':expected': { N: String(expected) },
            ':ttl': { N: '1900000000' },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (accepted) {
        const { Attributes } = await update;
        expect(Attributes).toMatchObject({
          version: { N: '2' },
          state: { S: 'running' },
          [TABLE.ttlAttribute]: { N: '1900000000' },
        });
      } else {
        await expect(update).rejects.toBeInstanceOf(ConditionalCheckFailedException);
        const { Item } = await client.send(
          new GetItemCommand({ TableName: table, Key: key('instance'), ConsistentRead: true }),
        );
        expect(Item).toMatchObject({ version: { N: '1' }, state: { S: 'creating' } });
      }
    },
  );

  it('applies ADD and if_not_exists update expressions atomically', async () => {
    const client = testDynamoClient();
    const table = await createTestTable(client);
    const bump = () =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key('counter'),
          UpdateExpression: 'ADD #count :one SET #first = if_not_exists(#first, :now)',
          ExpressionAttributeNames: { '#count': 'count', '#first': 'firstSeen' },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':now': { S: `t${Math.random()}` } },
          ReturnValues: 'ALL_NEW',
        }),
      );
    const first = await bump();
    const results = await Promise.all([bump(), bump(), bump()]);
    const counts = results.map((r) => Number(r.Attributes?.count?.N)).sort((a, b) => a - b);
    expect(counts).toEqual([2, 3, 4]);
    expect(results.every((r) => r.Attributes?.firstSeen?.S === first.Attributes?.firstSeen?.S)).toBe(true);
  });
});
