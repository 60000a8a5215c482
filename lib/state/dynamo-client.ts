import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DynamoClientOptions {
  /** a DynamoDB-compatible server (dynalite in local mode); unset = AWS */
  endpoint?: string;
  /** unset = the SDK's (AWS_REGION in Lambda) */
  region?: string;
  /**
   * Per-attempt socket timeout. The SDK's default is none: a hung connection would hold a
   * pass until the Lambda deadline; this fails it as a retryable `timeout` instead.
   * @default 5_000
   */
  requestTimeoutMs?: number;
  /** attempts per call, including the first (the SDK retries throttling and 5xx) @default 3 */
  maxAttempts?: number;
  /** static credentials for a local server (any non-empty values for dynalite) */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The DynamoDBClient DynamoStore should be given: bounded timeouts and retries. */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? 3,
    // smithy only warns on requestTimeout unless told to throw.
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 5_000,
      connectionTimeout: 2_000,
      throwOnRequestTimeout: true,
    },
  });
}
