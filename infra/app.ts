import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AnexStack } from './anex-stack.ts';
import { parseSettings, stackPropsFrom } from './settings.ts';

/**
 * `cdk synth|deploy` entry (cdk.json: `node infra/app.ts`). Settings come from context
 * (`-c anex:<name>=<value>`, see infra/settings.ts); account and region from the CLI profile.
 * cdk-nag's AWS Solutions rules run on every synth: an unsuppressed finding fails it.
 */
export function buildApp(app: App = new App()): { app: App; stack: AnexStack } {
  const settings = parseSettings(app.node.getAllContext());
  const stack = new AnexStack(app, settings.stackName ?? 'Anex', {
    ...stackPropsFrom(settings),
    description: 'anex: Kubernetes pods on marketplace GPUs (serverless reconciler)',
    env: cliEnvironment(),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

/** The CLI profile's account/region when known; otherwise an environment-agnostic stack. */
function cliEnvironment(): { account?: string; region?: string } {
  const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
  return { ...(account === undefined ? {} : { account }), ...(region === undefined ? {} : { region }) };
}

if (import.meta.main) {
  try {
    buildApp().app.synth();
  } catch (error) {
    process.stderr.write(`anex infra: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
