/**
 * The single DynamoDB table, defined once: the CDK stack (infra/) and the local/test
 * store (lib/state/dynamo-store.ts, test/support) both build it from this description,
 * so they cannot drift.
 *
 * Keys are generic (`pk`, `sk`); item types are told apart by key prefixes
 * (lib/state/keys.ts). `ttl` (epoch seconds) lets DynamoDB tidy expired items — a
 * clean-up only: readers check expiry themselves because TTL deletes late.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  /** Default table name for local mode and `anex run --table`. */
  defaultName: 'anex',
} as const;

export interface TableDefinition {
  TableName: string;
  KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  AttributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  BillingMode: 'PAY_PER_REQUEST';
}

/** CreateTable input for a DynamoDB-compatible server (dynalite in tests and local mode). */
export function tableDefinition(tableName: string = TABLE.defaultName): TableDefinition {
  return {
    TableName: tableName,
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE.sortKey, AttributeType: 'S' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}
