import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../functions/support/env.ts';

/** The repository root: entry points, package-lock.json and the local esbuild live here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Bundled output is ESM; a few CommonJS dependencies (@kubernetes/client-node's tree) call
 * `require` for Node built-ins, which ESM lacks — the banner provides one.
 */

export const ESM_REQUIRE_BANNER =
  "import { createRequire as __anexCreateRequire } from 'node:module'; const require = __anexCreateRequire(import.meta.url);";

export interface AnexFunctionProps {
  /** File name under functions/, without extension, e.g. `tick`; also the function's role in logs. */
  readonly entryName: string;
  /** One line for the console. */
  readonly description: string;
  /**
   * Memory in MB (CPU share grows with it).
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Hard Lambda timeout; the handler stops starting new work `deadlineMarginMs` before it.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency; undefined leaves the function in the account's unreserved pool.
   * @default undefined
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Extra environment (lib/config settings); merged over the deployment variables.
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Map stack traces to the TypeScript sources at run time. Costs ~13 MB of memory and ~35 ms
   * of cold start for a 2 MB bundle (bench/bundles.bench.ts); the .map file ships either way.
   * @default true
   */
  readonly enableSourceMaps?: boolean;
  /**
   * Log level of the structured logger.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * AWS SDK packages to bundle instead of taking them from the Lambda runtime: for packages
   * the runtime is not documented to ship (the S3 presigner). Every other `@aws-sdk/*`
   * dependency of package.json stays external.
   * @default [] (the whole SDK comes from the runtime)
   */
  readonly bundleSdkPackages?: readonly string[];
}

/** `@aws-sdk/*` dependencies of package.json: what the runtime provides unless bundled. */
function sdkDependencies(): string[] {
  const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}package.json`, 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@aws-sdk/'));
}

/** esbuild externals: the runtime's SDK, less what this function bundles itself. */
export function sdkExternals(bundled: readonly string[] = []): string[] {
  if (bundled.length === 0) return ['@aws-sdk/*'];
  return sdkDependencies().filter((name) => !bundled.includes(name));
}

/**
 * One anex Lambda function: Node.js 24 on arm64, bundled locally by esbuild (never Docker)
 * into minified ESM with source maps, `@aws-sdk/*` left to the runtime (unless bundled). It gets its own log
 * group (with retention) and its own role whose only built-in permission is writing to that
 * log group — every other permission is granted explicitly by the stack, scoped to one
 * resource ARN.
 */
export class AnexFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: AnexFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      // Logs are diagnostics, not state: removed with the stack (the table is retained).
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `anex ${props.entryName}: logs to its own log group only; other grants are per resource`,
    });
    // Instead of the AWSLambdaBasicExecutionRole managed policy (logs:* on every group).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.function = new NodejsFunction(this, 'Function', {
      entry: `${PROJECT_ROOT}functions/${props.entryName}.ts`,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        [FUNCTION_ENV.serviceName]: `anex-${props.entryName}`,
        [FUNCTION_ENV.logLevel]: props.logLevel ?? 'INFO',
        // Stack traces in the logs point at lib/*.ts lines instead of minified columns.
        ...((props.enableSourceMaps ?? true) ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        externalModules: sdkExternals(props.bundleSdkPackages),
        banner: ESM_REQUIRE_BANNER,
        // zod without its 40 locales (−260 KB): see functions/support/zod/classic.ts.
        esbuildArgs: { '--alias:zod': `${PROJECT_ROOT}functions/support/zod/index.ts` },
        // esbuild is a devDependency: bundling never needs Docker or the network.
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: () => [],
        },
      },
    });
  }
}
