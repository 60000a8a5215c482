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
export interface SecretsEndpoint {
  url: string;
  /** the ARN the functions are configured with */
  arn: string;
  /** how many GetSecretValue calls were answered (one per cold start) */
  reads(): number;
  stop(): Promise<void>;
}

export async function startSecretsEndpoint(secret: Record<string, string>): Promise<SecretsEndpoint> {
  const name = `anex-it-${randomBytes(3).toString('hex')}`;
  const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`;
  let reads = 0;
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
      if (SecretId !== arn && SecretId !== name) {
        answer(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reads += 1;
      answer(200, {
        ARN: arn,
        Name: name,
        SecretString: JSON.stringify(secret),
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
    arn,
    reads: () => reads,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
