import { type Command, InvalidArgumentError, Option } from 'commander';
import { configFromFlags, reconcileConfig } from '../../config/config.ts';
import { addConfigOptions } from '../../config/options.ts';
import { parseKubeletAddress } from '../../kube/virtual-node.ts';
import { loopbackAgentOptions } from '../../local/agent-endpoint.ts';
import { type LocalMode, startLocalMode } from '../../local/local-mode.ts';
import { defaultDataDir } from '../../local/paths.ts';
import { providerEndpointsFromEnv, registryMirrorFromEnv } from '../../local/provider-env.ts';
import { type SimulatedMarket, startSimulatedMarket } from '../../local/simulated-market.ts';
import { EXIT } from '../main.ts';
import { logLine, seconds } from '../support/parse.ts';
import { onStopSignals } from '../support/signals.ts';
import { addTunnelOptions, type TunnelCliOptions, tunnelOptions } from '../support/tunnel-options.ts';

interface RunOptions extends TunnelCliOptions {
  kubeconfig?: string;
  dataDir: string;
  /** lib/config's --table (default "anex"); `tableGiven` says whether the user set it */
  table: string;
  tableGiven: boolean;
  endpoint?: string;
  simulate: boolean;
  interval: number;
  kubeletAddress?: { ip: string; port: number };
}

async function runLocal(options: RunOptions, flags: Record<string, unknown>): Promise<number> {
  // The same settings table as the functions' ANEX_* variables (lib/config), as flags.
  // The simulated marketplace costs nothing: its pods' usual namespace is enabled for renting
  // explicitly (and said), unless --rent-namespaces says otherwise (ADR 0019).
  const simulatedDefault = options.simulate && flags.rentNamespaces === undefined;
  const config = configFromFlags(simulatedDefault ? { ...flags, rentNamespaces: 'default' } : flags);
  logLine(rentingLine(config.spend.rentNamespaces, simulatedDefault));
  // Simulated machines run on this host: without a public URL they reach the endpoint on
  // loopback, and without a gateway the agent runs pods untunnelled (transport `none`).
  const tunnel =
    tunnelOptions(options, config, process.env) ??
    (options.simulate ? await loopbackAgentOptions(config.vpnRange) : undefined);
  const market: SimulatedMarket | undefined = options.simulate
    ? await startSimulatedMarket({ onMachineEvent: logLine })
    : undefined;
  const registryMirror = market?.registryUrl ?? registryMirrorFromEnv(process.env);
  let mode: LocalMode;
  try {
    mode = await startLocalMode({
      ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
      store: storeOptions(options),
      providers: market?.endpoints ?? providerEndpointsFromEnv(process.env),
      passIntervalMs: options.interval,
      reconcile: reconcileConfig(config),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      ...(options.kubeletAddress === undefined ? {} : { kubeletAddress: options.kubeletAddress }),
      ...(registryMirror === undefined ? {} : { registryMirror }),
      ...(tunnel === undefined ? {} : { tunnel }),
      log: logLine,
    });
  } catch (error) {
    await market?.stop();
    throw error;
  }
  if (market !== undefined) {
    logLine(
      `simulated marketplace: ${Object.values(market.endpoints)
        .map((e) => e.baseUrl)
        .join(', ')}`,
    );
  }
  logLine(
    mode.agentEndpoint === undefined
      ? 'no agent endpoint: containers run as is, without the tunnel (--agent-endpoint-url and --gateway-* enable it)'
      : `agent endpoint on ${mode.agentEndpoint}; agents reach it at ${tunnel?.agentUrl ?? mode.agentEndpoint}${tunnel?.gateway === undefined ? ' (no gateway: pods run without the tunnel)' : ''}`,
  );
  logLine(
    `anex run: nodes ${mode.nodes.map((n) => n.name).join(', ')}; state in ${mode.storeWhere}; ` +
      `full pass every ${options.interval / 1000} s; Ctrl-C stops`,
  );
  const stopped = await new Promise<NodeJS.Signals>((resolve) => {
    const dispose = onStopSignals({
      graceful: (signal) => {
        logLine(`${signal}: finishing the pass in flight (press Ctrl-C again to abort it)`);
        resolve(signal);
      },
      hurry: () => {
        logLine('aborting the pass in flight');
        void mode.reconciler.stop({ abort: true });
        dispose();
      },
    });
  });
  await mode.stop();
  await market?.stop();
  logLine('stopped: leases released, store closed');
  return stopped === 'SIGINT' ? EXIT.interrupted : EXIT.ok;
}

/** Which namespaces may rent, said at start: nothing rents until the operator enables one. */
function rentingLine(namespaces: readonly string[] | '*', simulatedDefault: boolean): string {
  if (namespaces === '*') return 'every namespace may rent machines (--rent-namespaces "*")';
  if (namespaces.length === 0)
    return 'warning: no namespace may rent machines; pods stay Pending (NamespaceNotEnabled) until --rent-namespaces (ANEX_RENT_NAMESPACES) names theirs';
  const why = simulatedDefault ? ' (--simulate enables "default"; --rent-namespaces changes it)' : '';
  return `namespaces that may rent machines: ${namespaces.join(', ')}${why}`;
}

/** `--kubelet-address`: `<ipv4>:<port>`, else a usage error naming the flag. */
export function kubeletAddressFlag(value: string): { ip: string; port: number } {
  const address = parseKubeletAddress(value);
  if (address === undefined)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not <ipv4>:<port> (port 1-65535)`);
  return address;
}

function storeOptions(options: RunOptions) {
  if (options.endpoint !== undefined || options.tableGiven) {
    return {
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      table: options.table,
    };
  }
  return { dataDir: options.dataDir, publish: true, table: options.table };
}

/** `anex run`: the reconciler as one local process. */
export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('Run the reconciler locally against a cluster (replaces the AWS deployment)')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)')
    .option('--data-dir <dir>', 'where the embedded store keeps its state', defaultDataDir())
    .option(
      '--endpoint <url>',
      'DynamoDB-compatible endpoint; with it or --table, that table is used instead of the embedded store',
    )
    .option('--simulate', 'rent from the built-in simulated marketplace instead of Vast.AI / RunPod', false)
    .addOption(
      new Option('--interval <seconds>', 'seconds between full reconcile passes')
        .argParser(seconds)
        .default(15_000, '15'),
    )
    .addOption(
      new Option(
        '--kubelet-address <ip:port>',
        'where a kubelet API for the nodes listens (anex-kubelet on this host): the nodes advertise it so kubectl logs/exec reach it',
      ).argParser(kubeletAddressFlag),
    )
    .addHelpText(
      'after',
      '\n--table <name> alone means real DynamoDB (AWS credentials and region from the environment).\n' +
        '\nProviders: VAST_API_KEY and/or RUNPOD_API_KEY enable them (VAST_API_URL / RUNPOD_API_URL point\n' +
        'them at another endpoint, e.g. `anex sim`). The virtual nodes anex-vastai / anex-runpod are\n' +
        'registered and kept Ready; pods bound to them are reconciled on binding, on deletion and on\n' +
        'every full pass.\n' +
        '\nExamples:\n' +
        '  VAST_API_KEY=... anex run\n' +
        '  anex run --simulate --kubeconfig ./kubeconfig --data-dir /tmp/anex\n' +
        '\nCtrl-C (SIGINT) or SIGTERM: the pass in flight finishes, leases are released, the store is\n' +
        'closed; a second Ctrl-C aborts the pass in flight.\n' +
        'Exit codes: 0 stopped by SIGTERM, 1 failure, 2 invalid input, 130 stopped by Ctrl-C.',
    )
    .action(async (options: RunOptions & Record<string, unknown>) => {
      const tableGiven = command.getOptionValueSource('table') === 'cli';
      process.exitCode = await runLocal({ ...options, tableGiven }, options);
    });
  addTunnelOptions(command);
  addConfigOptions(command);
}
