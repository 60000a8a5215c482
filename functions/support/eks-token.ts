import { createHash, createHmac } from 'node:crypto';
import type { KubeConfig, User } from '@kubernetes/client-node';
import { AnexError } from '../../lib/errors.ts';

/**
 * EKS authentication without a long-lived token (ADR 0022, docs/deploy.md "EKS"): the API
 * server accepts as a bearer token a presigned STS `GetCallerIdentity` URL that names the
 * cluster in the signed header `x-k8s-aws-id`, and maps the signing IAM role to Kubernetes
 * groups through an access entry. This is what `aws eks get-token` prints; the AWS CLI is
 * not in the Lambda runtime, so the functions sign it themselves with their role's
 * credentials (AWS Signature Version 4, query-string form), anew for every request (an HMAC
 * chain: no cache, nothing to expire).
 */

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const TOKEN_PREFIX = 'k8s-aws-v1.';
/** what `aws eks get-token` signs for: EKS accepts the token for 15 minutes regardless */
const EXPIRES_SECONDS = 60;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The bearer token for `clusterName`, signed at `now` with `credentials` in `region`. */
export function eksToken(options: {
  clusterName: string;
  region: string;
  credentials: AwsCredentials;
  now: Date;
}): string {
  const { clusterName, region, credentials } = options;
  const host = `sts.${region}.amazonaws.com`;
  const datetime = options.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = datetime.slice(0, 8);
  const scope = `${date}/${region}/sts/aws4_request`;
  const signedHeaders = 'host;x-k8s-aws-id';
  const query: Record<string, string> = {
    Action: 'GetCallerIdentity',
    Version: '2011-06-15',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': datetime,
    'X-Amz-Expires': String(EXPIRES_SECONDS),
    'X-Amz-SignedHeaders': signedHeaders,
    ...(credentials.sessionToken === undefined ? {} : { 'X-Amz-Security-Token': credentials.sessionToken }),
  };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((key) => `${uriEncode(key)}=${uriEncode(query[key] ?? '')}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    `host:${host}\nx-k8s-aws-id:${clusterName}\n`,
    signedHeaders,
    EMPTY_SHA256,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    datetime,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), 'sts'),
    'aws4_request',
  );
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  const url = `https://${host}/?${canonicalQuery}&X-Amz-Signature=${signature}`;
  return TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}

/** The Lambda runtime's role credentials and region, from its standard variables. */
export function lambdaCredentials(env: Readonly<Record<string, string | undefined>>): {
  credentials: AwsCredentials;
  region: string;
} {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION } = env;
  if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY || !AWS_REGION) {
    throw new AnexError(
      'the kubeconfig asks for EKS IAM authentication but AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_REGION is not set (outside Lambda, use a token kubeconfig)',
      { kind: 'auth' },
    );
  }
  return {
    credentials: {
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
      ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
    },
    region: AWS_REGION,
  };
}

/**
 * The EKS cluster a kubeconfig user names through `aws eks get-token` (the user that
 * `aws eks update-kubeconfig` writes: exec `aws` with `--region <r> eks get-token
 * --cluster-name <name> --output json`), or undefined for any other user.
 */
export function eksClusterOf(user: User): { clusterName: string; region?: string } | undefined {
  const exec = user.exec as { command?: string; args?: string[] } | undefined;
  if (exec?.command === undefined || !/(^|\/)aws$/.test(exec.command)) return undefined;
  const args = exec.args ?? [];
  // `aws eks update-kubeconfig` writes global options first: ["--region", "<r>", "eks", "get-token", ...]
  const eks = args.indexOf('eks');
  if (eks < 0 || args[eks + 1] !== 'get-token') return undefined;
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  const clusterName = value('--cluster-name') ?? value('--cluster-id');
  if (clusterName === undefined || clusterName === '') return undefined;
  const region = value('--region');
  return { clusterName, ...(region === undefined ? {} : { region }) };
}

/** A name no built-in client-node authenticator claims. */
const AUTH_PROVIDER = 'anex-eks-iam';

/**
 * A KubeConfig whose current user, if it is an `aws eks get-token` user, signs its own EKS
 * token for every request instead of running the AWS CLI; any other kubeconfig is returned
 * as loaded.
 */
export function withEksAuth(
  kubeConfig: KubeConfig,
  options: { env: Readonly<Record<string, string | undefined>>; now?: () => Date },
): KubeConfig {
  const user = kubeConfig.getCurrentUser();
  const eks = user === null ? undefined : eksClusterOf(user);
  if (user === null || eks === undefined) return kubeConfig;
  const { credentials, region } = lambdaCredentials(options.env);
  const signingRegion = eks.region ?? region;
  const now = options.now ?? (() => new Date());
  // client-node's own ExecAuth claims any user with `exec` (it would run `aws`): replace the
  // user by one with an auth provider only our authenticator claims.
  kubeConfig.loadFromOptions({
    clusters: kubeConfig.clusters,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
    users: kubeConfig.users.map((u) =>
      u.name === user.name
        ? { name: u.name, authProvider: { name: AUTH_PROVIDER, config: { cluster: eks.clusterName } } }
        : u,
    ),
  });
  kubeConfig.addAuthenticator({
    isAuthProvider: (candidate: User) => candidate.authProvider?.name === AUTH_PROVIDER,
    applyAuthentication: async (_candidate: User, opts: { headers?: Record<string, unknown> }) => {
      opts.headers ??= {};
      opts.headers.Authorization = `Bearer ${eksToken({ clusterName: eks.clusterName, region: signingRegion, credentials, now: now() })}`;
    },
  });
  return kubeConfig;
}
