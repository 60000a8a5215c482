import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The one Secrets Manager call the functions make (GetSecretValue, AWS JSON 1.1 protocol) on
 * 127.0.0.1, so the composition roots read their secret exactly as in AWS: the real
 * @aws-sdk/client-secrets-manager, pointed here by the SDK's own endpoint variable
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER). There is no Secrets Manager-compatible server in the
 * test ground; this answers that single operation as the service documents it and refuses
 * everything else, so a new call in the product fails loudly here instead of passing.
 */
export interface SecretsEndpoint<K extends string> {
  url: string;
  /** the ARN of each secret, as the functions are configured with them */
  arns: Record<K, string>;
  /** how many GetSecretValue calls were answered for `key` (one per cold start of its reader) */
  reads(key: K): number;
  stop(): Promise<void>;
}

/** Serves `secrets` (by key, e.g. reconciler/agent/webhook), each under its own name and ARN. */
export async function startSecretsEndpoint<K extends string>(
  secrets: Record<K, Record<string, string>>,
): Promise<SecretsEndpoint<K>> {
  const prefix = `anex-it-${randomBytes(3).toString('hex')}`;
  const keys = Object.keys(secrets) as K[];
  const nameOf = (key: K) => `${prefix}-${key}`;
  const arnOf = (key: K) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${nameOf(key)}-AbCdEf`;
  const reads = new Map<K, number>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) =>
        response
          .writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify(body));
      const target = request.headers['x-amz-target'];
      if (target !== 'secretsmanager.GetSecretValue') {
        answer(400, { __type: 'UnknownOperationException', message: `not served here: ${String(target)}` });
        return;
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: string };
      const key = keys.find((k) => SecretId === arnOf(k) || SecretId === nameOf(k));
      if (key === undefined) {
        answer(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reads.set(key, (reads.get(key) ?? 0) + 1);
      answer(200, {
        ARN: arnOf(key),
        Name: nameOf(key),
        SecretString: JSON.stringify(secrets[key]),
        VersionId: 'a1b2c3d4-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arns: Object.fromEntries(keys.map((k) => [k, arnOf(k)])) as Record<K, string>,
    reads: (key) => reads.get(key) ?? 0,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
