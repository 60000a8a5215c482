import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadKubeConfig } from '../../local/local-mode.ts';
import { openLocalStore } from '../../local/local-store.ts';
import { providerEndpointsFromEnv } from '../../local/provider-env.ts';
import { renderExplainJson, renderExplainText } from '../explain-output.ts';
import { gatherExplain } from '../explain-report.ts';
import { addStoreOptions, type StoreCliOptions, storeOptions } from '../support/store-options.ts';

interface ExplainOptions extends StoreCliOptions {
  kubeconfig?: string;
  output: 'text' | 'json';
}

function podRef(value: string): { namespace: string; name: string } {
  const match = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(value);
  if (match === null) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not <namespace>/<pod> (e.g. default/my-gpu-workload)`,
    );
  }
  return { namespace: match[1] as string, name: match[2] as string };
}

async function runExplain(ref: { namespace: string; name: string }, options: ExplainOptions): Promise<void> {
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const state = await openLocalStore(storeOptions(options));
  try {
    const now = Date.now();
    const report = await gatherExplain({
      kubeConfig,
      ...ref,
      store: state.store,
      providers: providerEndpointsFromEnv(process.env),
      now,
    });
    process.stdout.write(
      options.output === 'json' ? renderExplainJson(report) : renderExplainText(report, now),
    );
  } finally {
    await state.close();
  }
}

/** `anex explain <ns>/<pod>`: why a pod is where it is. */
export function registerExplain(program: Command): void {
  const command = program
    .command('explain')
    .description('Explain a pod: its annotations, the offer funnel and near miss, bans, state and events')
    .argument('<namespace/pod>', 'the pod, e.g. default/my-gpu-workload', podRef)
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)')
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'));
  addStoreOptions(command)
    .addHelpText(
      'after',
      '\nThe answer to "why is my pod Pending?". Live offers need VAST_API_KEY / RUNPOD_API_KEY\n' +
        '(VAST_API_URL / RUNPOD_API_URL for another endpoint, e.g. `anex sim`).\n' +
        '\nExamples:\n' +
        '  anex explain default/my-gpu-workload\n' +
        '  anex explain ml/train --kubeconfig ./kubeconfig --output json\n' +
        '\nExit codes: 0 ok, 1 failure (cluster or store unreachable), 2 invalid input (pod not found, bad flags).',
    )
    .action(async (ref: { namespace: string; name: string }, options: ExplainOptions) => {
      await runExplain(ref, options);
    });
}
