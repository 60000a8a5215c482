import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Secrets-Manager-compatible HTTP endpoint on 127.0.0.1 for GetSecretValue, so tests drive
 * the real AWS SDK (client-secrets-manager) over HTTP: point it here with
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER` (the SDK's service-specific endpoint variable:
 * @smithy/core endpoints `getEndpointUrlConfig`, `AWS_ENDPOINT_URL_` + the service id
 * "Secrets Manager" upper-cased, words joined by `_`) and dummy credentials.
 *
 * What it holds the caller to, and how it answers — AWS's own shapes:
 * - the AWS JSON 1.1 protocol (Smithy `aws.protocols#awsJson1_1`, which the Secrets Manager
 *   API uses): `POST /`, `X-Amz-Target: secretsmanager.<Operation>`, a JSON body;
 *   `Content-Type: application/x-amz-json-1.1` both ways;
 * - a SigV4 `Authorization` header whose credential scope names this endpoint's region and the
 *   service `secretsmanager` (the signature itself is not recomputed: the dummy key proves
 *   nothing, the scope proves the SDK signed for the right region and service);
 * - errors as AWS JSON 1.1 error bodies, `{"__type": "<ErrorCode>", "message": "..."}` with the
 *   HTTP status the API reference gives: Smithy awsJson1_1 "Operation error serialization"
 *   (the error's shape name in `__type`, its members in the body) and the Secrets Manager API
 *   Reference — GetSecretValue "Errors" (`ResourceNotFoundException` "Secrets Manager can't
 *   find the resource that you asked for", HTTP 400) and "Common Errors"
 *   (`AccessDeniedException` "You do not have sufficient access to perform this action", HTTP
 *   400; `MissingAuthenticationToken`, HTTP 403; `IncompleteSignature` "The request signature
 *   does not conform to AWS standards", HTTP 400; `InvalidAction`, HTTP 400).
 *
 * It records what each request asked (never a secret's value) for the tests to read.
 */

export interface SecretsManagerStubOptions {
  /** the region this endpoint serves; a signature scoped to another is refused */
  region: string;
  /** SecretString by secret id, each reachable by its ARN or by its name */
  secrets: readonly { arn: string; value: string }[];
  /** secret ids (ARN or name) the caller's credentials may not read: AccessDeniedException */
  denied?: readonly string[];
}

export interface SeenRequest {
  target: string | undefined;
  /** the credential scope of the SigV4 Authorization, when there was one */
  scope: { accessKeyId: string; region: string; service: string } | undefined;
  secretId: string | undefined;
  /** the answer's error code (`__type`), or `ok` */
  answer: string;
}

export interface SecretsManagerStub {
  /** the endpoint URL for `AWS_ENDPOINT_URL_SECRETS_MANAGER` */
  url: string;
  readonly requests: readonly SeenRequest[];
  stop(): Promise<void>;
}

const JSON_1_1 = 'application/x-amz-json-1.1';
const SCOPE =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}$/;

export async function startSecretsManager(options: SecretsManagerStubOptions): Promise<SecretsManagerStub> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    void answer(options, req, res, requests);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function answer(
  options: SecretsManagerStubOptions,
  req: IncomingMessage,
  res: ServerResponse,
  requests: SeenRequest[],
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const target = header(req, 'x-amz-target');
  const scope = scopeOf(header(req, 'authorization'));
  let secretId: string | undefined;
  const reply = (status: number, body: Record<string, unknown>, code = 'ok') => {
    requests.push({ target, scope, secretId, answer: code });
    res.writeHead(status, { 'content-type': JSON_1_1, 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  };
  const fail = (status: number, code: string, message: string) =>
    reply(status, { __type: code, message }, code);

  const authorization = header(req, 'authorization');
  if (authorization === undefined)
    return fail(403, 'MissingAuthenticationToken', 'Missing Authentication Token');
  if (scope === undefined || header(req, 'x-amz-date') === undefined)
    return fail(400, 'IncompleteSignature', 'The request signature does not conform to AWS standards.');
  if (scope.service !== 'secretsmanager' || scope.region !== options.region)
    return fail(
      400,
      'IncompleteSignature',
      `Credential should be scoped to region ${options.region} and service secretsmanager, not ` +
        `${scope.region}/${scope.service}.`,
    );
  if (req.method !== 'POST' || req.url !== '/' || !(header(req, 'content-type') ?? '').startsWith(JSON_1_1))
    return fail(400, 'InvalidAction', 'The action or operation requested is invalid.');
  if (target !== 'secretsmanager.GetSecretValue')
    return fail(400, 'InvalidAction', `The action ${target ?? '(none)'} is not valid for this endpoint.`);
  let body: { SecretId?: unknown };
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: unknown };
  } catch {
    return fail(400, 'SerializationException', 'The request body is not JSON.');
  }
  if (typeof body.SecretId !== 'string' || body.SecretId === '')
    return fail(400, 'InvalidParameterException', 'You must provide a SecretId.');
  secretId = body.SecretId;
  if (options.denied?.includes(secretId))
    return fail(
      400,
      'AccessDeniedException',
      `User: arn:aws:iam::123456789012:user/selftest is not authorized to perform: ` +
        `secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy ` +
        'allows the secretsmanager:GetSecretValue action',
    );
  const secret = options.secrets.find((s) => s.arn === secretId || nameOf(s.arn) === secretId);
  if (secret === undefined)
    return fail(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  reply(200, {
    ARN: secret.arn,
    Name: nameOf(secret.arn),
    VersionId: '00000000-0000-4000-8000-000000000001',
    SecretString: secret.value,
    VersionStages: ['AWSCURRENT'],
    CreatedDate: 1_780_000_000,
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function scopeOf(authorization: string | undefined): SeenRequest['scope'] {
  const match = authorization === undefined ? null : SCOPE.exec(authorization);
  if (match === null) return undefined;
  return { accessKeyId: match[1] ?? '', region: match[3] ?? '', service: match[4] ?? '' };
}

/** The secret's name: the ARN's last part without the 6 random characters Secrets Manager appends. */
function nameOf(arn: string): string {
  return (arn.split(':secret:')[1] ?? arn).replace(/-[A-Za-z0-9]{6}$/, '');
}
