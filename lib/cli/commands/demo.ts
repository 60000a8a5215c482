import type { Command } from 'commander';
import { runDemo } from '../../local/demo.ts';
import { EXIT } from '../main.ts';
import { logLine } from '../support/parse.ts';
import { onStopSignals } from '../support/signals.ts';

interface DemoCliOptions {
  pod?: string;
  keep: boolean;
  kubeconfig?: string;
  verbose: boolean;
}

async function demo(options: DemoCliOptions): Promise<number> {
  const started = Date.now();
  const stop = new AbortController();
  const dispose = onStopSignals({
    graceful: () => {
      process.stdout.write('\nCtrl-C: stopping and cleaning up (Ctrl-C again does not skip the clean-up)\n');
      stop.abort();
    },
    hurry: () => {},
  });
  try {
    const result = await runDemo({
      ...(options.pod === undefined ? {} : { podFile: options.pod }),
      ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
      keep: options.keep,
      stop: stop.signal,
      say: (line) => process.stdout.write(`${line}\n`),
      log: options.verbose ? logLine : () => {},
    });
    process.stdout.write(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (result.leaked > 0) return EXIT.failure;
    // --keep ends only by Ctrl-C: interrupted too, even though the pod reached Running.
    if (result.outcome === 'interrupted' || stop.signal.aborted) return EXIT.interrupted;
    return result.outcome === 'running' ? EXIT.ok : EXIT.failure;
  } finally {
    dispose();
  }
}

/** `anex demo` (= `npm run demo`). */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Start a local control plane, simulated marketplace, embedded store and reconciler, and run the example pod to Running',
    )
    .option('--pod <file>', 'run this pod manifest instead of examples/seed-pod.yaml')
    .option(
      '--keep',
      'leave everything up after Running (prints a kubeconfig for kubectl) until Ctrl-C',
      false,
    )
    .option('--kubeconfig <file>', 'use this cluster instead of starting a local control plane')
    .option('--verbose', "also print the reconciler's pass log", false)
    .addHelpText(
      'after',
      '\nNothing is rented for real: the Vast.AI and RunPod APIs are simulated. The first run builds\n' +
        'Kubernetes from source into ~/.cache/anex (needs Go >= 1.24; 10-30 min on 2 cores).\n' +
        'Everything started is stopped on exit and on Ctrl-C.\n' +
        '\nExit codes: 0 the pod reached Running, 1 it did not (or a part failed to start),\n' +
        '2 invalid input (e.g. --pod is not a Pod manifest), 130 interrupted.',
    )
    .action(async (options: DemoCliOptions) => {
      process.exitCode = await demo(options);
    });
}
