import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { loadConfigFromEnv } from '../lib/config/config.ts';
import { SECRET_ENV, Secret } from '../lib/config/secrets.ts';
import { SETTINGS } from '../lib/config/settings.ts';
import { TUNNEL_ENV, tunnelModeFrom } from '../lib/config/tunnel.ts';
import { InvalidInputError } from '../lib/errors.ts';
import type { AnexStackProps } from './anex-stack.ts';

/**
 * Deployment settings from CDK context (`cdk deploy -c anex:tickMemorySize=192`, or the
 * `context` of cdk.json). Every key is optional; the defaults are documented on
 * {@link AnexStackProps}. Values from the command line arrive as strings, hence coercion.
 */
export const CONTEXT_PREFIX = 'anex:';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const retentionDays = z.coerce
  .number()
  .int()
  .refine((v) => Object.values(logs.RetentionDays).includes(v as logs.RetentionDays), {
    message: `must be one of CloudWatch Logs' retention periods in days (${Object.values(logs.RetentionDays)
      .filter((v) => typeof v === 'number')
      .join(', ')})`,
  });

/** lib/config's variables; the secret ones are refused (they belong in Secrets Manager). */
const CONFIG_VARIABLES = new Set<string>([...SETTINGS.map((s) => s.env), ...Object.values(TUNNEL_ENV)]);
const SECRET_VARIABLES = new Set<string>(Object.values(SECRET_ENV));

const reconcilerEnvironment = z
  .union([z.string(), z.record(z.string(), z.unknown())])
  .transform((value, ctx) => {
    try {
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of ANEX_* variables' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), z.string({ error: 'values must be strings' })))
  .superRefine((env, ctx) => {
    for (const key of Object.keys(env)) {
      if (SECRET_VARIABLES.has(key)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} is a secret: put it in the stack's secret (docs/deploy.md)`,
        });
      } else if (!CONFIG_VARIABLES.has(key)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} is not an anex setting (see lib/config/settings.ts)`,
        });
      }
    }
    for (const issue of valueIssues(env)) ctx.addIssue({ code: 'custom', message: issue });
  });

/**
 * The values, checked as the functions will check them at their first start, so a typo
 * stops the synth instead of every cold start. The prefix secret is not known here: a
 * stand-in lets the wss URL be checked without it.
 */
function valueIssues(env: Record<string, string>): readonly string[] {
  const issues: string[] = [];
  for (const check of [
    () => loadConfigFromEnv(env),
    () =>
      tunnelModeFrom({
        env,
        transports: ['udp', 'wstunnel'],
        wstunnelPathPrefix: new Secret('checked-at-start-up'),
        agentEndpointUrl: false,
      }),
  ]) {
    try {
      check();
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      issues.push(...error.issues);
    }
  }
  return issues;
}

const settingsSchema = z
  .object({
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must be a CloudFormation stack name'),
    tableName: z.string().min(3).max(255),
    retainTable: bool,
    secretName: z.string().min(1).max(512),
    tickMemorySize: int(128, 10_240),
    tickTimeoutSeconds: int(30, 900),
    tickWindowSeconds: int(10, 840),
    tickReservedConcurrency: int(0, 10),
    publicReservedConcurrency: int(0, 1000),
    functionMemorySize: int(128, 10_240),
    podEventsTimeoutSeconds: int(5, 900),
    podEventsBatchSize: int(1, 100),
    podEventsMaxConcurrency: int(2, 1000),
    maxReceiveCount: int(1, 1000),
    logRetentionDays: retentionDays,
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']),
    alarmTopicArn: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
    scheduleEnabled: bool,
    environment: reconcilerEnvironment,
    credentialsRevision: z.coerce.string().regex(/^[\w.-]{1,64}$/, 'must be a short label such as "2"'),
  })
  .partial()
  .strict();

export type DeploymentSettings = z.output<typeof settingsSchema>;

/** Reads `anex:*` context keys; unknown keys and bad values are reported together. */
export function parseSettings(context: Readonly<Record<string, unknown>>): DeploymentSettings {
  const ours = Object.fromEntries(
    Object.entries(context)
      .filter(([key]) => key.startsWith(CONTEXT_PREFIX))
      .map(([key, value]) => [key.slice(CONTEXT_PREFIX.length), value]),
  );
  const parsed = settingsSchema.safeParse(ours);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(
    parsed.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? `${CONTEXT_PREFIX}${issue.path.join('.')}` : 'context';
      const keys = 'keys' in issue ? ` (${issue.keys.map((k) => CONTEXT_PREFIX + k).join(', ')})` : '';
      return `${key}: ${issue.message}${keys}; value: ${shown(String(issue.path[0]), ours[String(issue.path[0])])}`;
    }),
  );
}

/** The value as given, except the environment's values: a pasted API key must not be echoed. */
function shown(key: string, value: unknown): string {
  if (key !== 'environment') return JSON.stringify(value);
  let object = value;
  try {
    if (typeof value === 'string') object = JSON.parse(value);
  } catch {
    return 'text that is not JSON';
  }
  if (typeof object !== 'object' || object === null) return typeof object;
  return `an object with ${Object.keys(object).join(', ') || 'no keys'}`;
}

/** Settings → stack props, leaving unset values to the stack's documented defaults. */
export function stackPropsFrom(settings: DeploymentSettings): AnexStackProps {
  const seconds = (v: number | undefined) => (v === undefined ? undefined : Duration.seconds(v));
  const props: Record<string, unknown> = {
    tableName: settings.tableName,
    tableRemovalPolicy: settings.retainTable === false ? RemovalPolicy.DESTROY : undefined,
    secretName: settings.secretName,
    tickMemorySize: settings.tickMemorySize,
    tickTimeout: seconds(settings.tickTimeoutSeconds),
    tickWindowSeconds: settings.tickWindowSeconds,
    tickReservedConcurrency: settings.tickReservedConcurrency,
    publicReservedConcurrency: settings.publicReservedConcurrency,
    functionMemorySize: settings.functionMemorySize,
    podEventsTimeout: seconds(settings.podEventsTimeoutSeconds),
    podEventsBatchSize: settings.podEventsBatchSize,
    podEventsMaxConcurrency: settings.podEventsMaxConcurrency,
    maxReceiveCount: settings.maxReceiveCount,
    logRetention: settings.logRetentionDays as logs.RetentionDays | undefined,
    logLevel: settings.logLevel,
    alarmTopicArn: settings.alarmTopicArn,
    scheduleEnabled: settings.scheduleEnabled,
    environment: settings.environment,
    credentialsRevision: settings.credentialsRevision,
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as AnexStackProps;
}
