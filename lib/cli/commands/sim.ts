import { type Command, InvalidArgumentError } from 'commander';
import { PROVIDER_ENV } from '../../config/secrets.ts';
import { REGISTRY_MIRROR_ENV } from '../../local/provider-env.ts';
import { startSimulatedMarket } from '../../local/simulated-market.ts';
import type { ProviderName } from '../../offers/offer.ts';
import { EXIT } from '../main.ts';
import { logLine, port, seconds } from '../support/parse.ts';
import { firstStopSignal } from '../support/signals.ts';

interface SimOptions {
  vastaiPort: number;
  runpodPort: number;
  seed: number;
  offers: number;
  boot: number;
}

async function runSim(options: SimOptions): Promise<number> {
  const market = await startSimulatedMarket({
    seed: options.seed,
    bootMs: options.boot,
    vastaiOffers: options.offers,
    onMachineEvent: logLine,
    ports: { vastai: options.vastaiPort, runpod: options.runpodPort },
  });
  // stdout: one `<provider> <base URL>` line each, for scripts; how to use them goes to stderr.
  const endpoints = Object.entries(market.endpoints) as [ProviderName, { apiKey: string; baseUrl: string }][];
  for (const [name, endpoint] of endpoints) process.stdout.write(`${name} ${endpoint.baseUrl}\n`);
  process.stdout.write(`registry ${market.registryUrl}\n`);
  for (const [name, endpoint] of endpoints) {
    const env = PROVIDER_ENV[name];
    logLine(`to use it: export ${env.url}=${endpoint.baseUrl} ${env.apiKey}=${endpoint.apiKey}`);
  }
  logLine(`and its images: export ${REGISTRY_MIRROR_ENV}=${market.registryUrl}`);
  logLine('simulated marketplace running (admin API: GET <url>/__sim/instances); Ctrl-C stops it');
  const stop = firstStopSignal();
  const signal = await stop.signal;
  stop.dispose();
  const live = market.liveInstances();
  await market.stop();
  const leaked = Object.values(live).flat();
  if (leaked.length > 0) logLine(`stopped with ${leaked.length} simulated instance(s) still rented`);
  return signal === 'SIGINT' ? EXIT.interrupted : EXIT.ok;
}

function integer(value: string): number {
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a whole number (e.g. 1)`);
  return Number(value);
}

function offerCount(value: string): number {
  const n = integer(value);
  if (n < 1 || n > 100_000)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is out of range: give 1 to 100000 offers`);
  return n;
}

/** `anex sim`: the Vast.AI and RunPod simulators as a standalone process. */
export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('Serve simulated Vast.AI and RunPod APIs on 127.0.0.1 (for anex run, tests, experiments)')
    .option('--vastai-port <port>', 'port of the Vast.AI simulator (0 = any free port)', port, 0)
    .option('--runpod-port <port>', 'port of the RunPod simulator (0 = any free port)', port, 0)
    .option('--seed <n>', 'market seed (same seed, same offers)', integer, 1)
    .option('--offers <n>', 'offers in the Vast.AI market, 1 to 100000', offerCount, 500)
    .option('--boot <seconds>', 'how long a rented machine takes to be running', seconds, 6_000)
    .addHelpText(
      'after',
      '\nPrints `vastai <url>` and `runpod <url>` on stdout (one line each), then serves until Ctrl-C.\n' +
        'Any non-empty API key is accepted. Each simulator has an admin API: GET <url>/__sim/instances\n' +
        'lists rented instances.\n' +
        '\nExample:\n' +
        '  anex sim --vastai-port 8081 --runpod-port 8082 &\n' +
        '  VAST_API_URL=http://127.0.0.1:8081 VAST_API_KEY=x RUNPOD_API_URL=http://127.0.0.1:8082 \\\n' +
        '    RUNPOD_API_KEY=x anex run --kubeconfig ./kubeconfig\n' +
        '\nExit codes: 0 stopped by SIGTERM, 1 failure, 2 invalid input, 130 stopped by Ctrl-C.',
    )
    .action(async (options: SimOptions) => {
      process.exitCode = await runSim(options);
    });
}
