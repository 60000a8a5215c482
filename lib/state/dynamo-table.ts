import {
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { encodeKey, encodeValues, type Item } from './codec.ts';
import { isConditionFailed, translateDynamoError } from './errors.ts';
import type { ItemKey } from './keys.ts';

type QueryFilter = Pick<
  QueryCommandInput,
  'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

/**
 * The table access DynamoStore is built from: every call goes through here, so every SDK
 * error is translated (lib/state/errors.ts) with the action named, and a lost condition
 * is a boolean the caller interprets.
 */
export class DynamoTable {
  readonly client: DynamoDBClient;
  readonly name: string;

  constructor(client: DynamoDBClient, name: string) {
    this.client = client;
    this.name = name;
  }

  /** Strongly consistent read of one item. */
  async get(key: ItemKey, action: string): Promise<Item | undefined> {
    const output = await this.call(
      () =>
        this.client.send(
          new GetItemCommand({ TableName: this.name, Key: encodeKey(key), ConsistentRead: true }),
        ),
      action,
    );
    return output.Item;
  }

  /** Every item of a partition, all pages, strongly consistent. */
  async query(pk: string, action: string, filter: QueryFilter = {}): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.name,
        KeyConditionExpression: 'pk = :pk',
        ConsistentRead: true,
        ...filter,
        ExpressionAttributeValues: { ...encodeValues({ ':pk': pk }), ...filter.ExpressionAttributeValues },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      };
      const output = await this.call(() => this.client.send(new QueryCommand(input)), action);
      items.push(...(output.Items ?? []));
      start = output.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /** Runs a conditional write. @returns false when the condition lost. */
  async conditional(write: () => Promise<unknown>, action: string): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw translateDynamoError(error, action, this.name);
    }
  }

  /** Runs any call, translating its failure. */
  async call<T>(run: () => Promise<T>, action: string): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translateDynamoError(error, action, this.name);
    }
  }
}
