import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../lib/state/dynamo-store.ts';
import { startEmbeddedDynamo } from '../lib/state/embedded-dynamo.ts';
import { tableDefinition } from '../lib/state/table.ts';

/** A DynamoStore on an in-process dynalite, counting the DynamoDB requests the SDK sends. */
export interface BenchDynamo {
  store: DynamoStore;
  /** DynamoDB requests by command name (e.g. `QueryCommand`) since the last {@link reset} */
  requests: Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * The real DynamoStore and AWS SDK over HTTP to dynalite (lib/state/embedded-dynamo.ts). The
 * count is taken by SDK middleware at the `initialize` step: one per command sent, retries
 * not double-counted — what DynamoDB would bill.
 */
export async function benchDynamo(): Promise<BenchDynamo> {
  const server = await startEmbeddedDynamo();
  const client = new DynamoDBClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const requests: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? 'unknown';
      requests[name] = (requests[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'anexBenchCount' },
  );
  const tableName = 'anex-bench';
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  return {
    store: new DynamoStore({ client, tableName }),
    requests,
    reset() {
      for (const key of Object.keys(requests)) delete requests[key];
    },
    async close() {
      client.destroy();
      await server.close();
    },
  };
}
