import { isIPv4 } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { configFromFlags, reconcileConfig } from '../../config/config.ts';
import { addConfigOptions } from '../../config/options.ts';
import { InvalidInputError } from '../../errors.ts';
import { parseKubeletAddress } from '../../kube/virtual-node.ts';
import { loopbackAgentOptions } from '../../local/agent-endpoint.ts';
import { type KubeletAddress, kubeconfigFile } from '../../local/kubelet-process.ts';
import { type LocalMode, loadKubeConfig, startLocalMode } from '../../local/local-mode.ts';
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
  /** false with --no-kubelet */
  kubelet: boolean;
  kubeletListen?: KubeletAddress;
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
    const kubelet = kubeletPlan(options, {
      agentEndpoint: tunnel !== undefined,
      env: process.env,
      apiServer: () => loadKubeConfig(options.kubeconfig).getCurrentCluster()?.server,
    });
    logLine(kubeletLine(kubelet));
    mode = await startLocalMode({
      ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
      store: storeOptions(options),
      providers: market?.endpoints ?? providerEndpointsFromEnv(process.env),
      passIntervalMs: options.interval,
      reconcile: reconcileConfig(config),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      ...(kubelet.kind === 'advertise' ? { kubeletAddress: kubelet.address } : {}),
      ...(kubelet.kind === 'serve'
        ? { kubelet: { listen: kubelet.listen, kubeconfig: kubelet.kubeconfig } }
        : {}),
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

/** What `anex run` does about the nodes' kubelet API (ADR 0023). */
export type KubeletPlan =
  /** start anex-kubelet on `listen` (port 0: a free one); the nodes advertise it */
  | { kind: 'serve'; listen: KubeletAddress; kubeconfig: string }
  /** `--kubelet-address`: one started by hand; the nodes advertise it */
  | { kind: 'advertise'; address: KubeletAddress }
  /** none: `why` says so, and what would enable it */
  | { kind: 'off'; why: string };

/**
 * Serve by default when this process serves the agent endpoint (anex-kubelet reads pod
 * addresses and saved log tails from it) and the API server can reach the address: loopback
 * when the API server is on this host, else the address `--kubelet-listen` gives.
 * @throws InvalidInputError when `--kubelet-listen` asks for what cannot be served
 */
export function kubeletPlan(
  flags: Pick<RunOptions, 'kubelet' | 'kubeletListen' | 'kubeletAddress' | 'kubeconfig'>,
  context: {
    agentEndpoint: boolean;
    env: Readonly<Record<string, string | undefined>>;
    /** the kubeconfig's API server URL (read only when needed) */
    apiServer: () => string | undefined;
  },
): KubeletPlan {
  if (flags.kubeletAddress !== undefined) return { kind: 'advertise', address: flags.kubeletAddress };
  if (!flags.kubelet) {
    return { kind: 'off', why: 'not served (--no-kubelet): kubectl logs and exec on anex pods fail' };
  }
  const listen = flags.kubeletListen;
  if (!context.agentEndpoint) {
    const why =
      'there is no agent endpoint (--simulate or --agent-endpoint-url serve one), and anex-kubelet reads pod addresses and saved log tails from it';
    if (listen !== undefined) throw new InvalidInputError([`--kubelet-listen: ${why}`]);
    return { kind: 'off', why: `not served: ${why}; kubectl logs and exec on anex pods fail` };
  }
  const kubeconfig = kubeconfigFile(flags.kubeconfig, context.env);
  if (kubeconfig === undefined) {
    const why = '$KUBECONFIG lists several files and anex-kubelet reads one: pass --kubeconfig <file>';
    if (listen !== undefined) throw new InvalidInputError([`--kubelet-listen: ${why}`]);
    return { kind: 'off', why: `not served: ${why}` };
  }
  if (listen !== undefined) return { kind: 'serve', listen, kubeconfig };
  const server = context.apiServer();
  if (server !== undefined && isLoopbackUrl(server)) {
    return { kind: 'serve', listen: { ip: '127.0.0.1', port: 0 }, kubeconfig };
  }
  return {
    kind: 'off',
    why: `not served: the API server (${server ?? 'unknown'}) is not on this host, so it cannot reach 127.0.0.1; pass --kubelet-listen <ip:port> with an address of this host it reaches (or --no-kubelet)`,
  };
}

function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || (isIPv4(host) && host.startsWith('127.'));
}

function kubeletLine(plan: KubeletPlan): string {
  switch (plan.kind) {
    case 'serve':
      return `kubelet API: serving anex-kubelet on ${plan.listen.ip}${plan.listen.port === 0 ? ' (a free port)' : `:${plan.listen.port}`} for kubectl logs/exec (--no-kubelet turns it off)`;
    case 'advertise':
      return `kubelet API: the nodes advertise ${plan.address.ip}:${plan.address.port} (--kubelet-address: an anex-kubelet you started)`;
    default:
      return `kubelet API: ${plan.why}`;
  }
}

/**
 * `--kubelet-listen`: `<ipv4>:<port>` of this host (port 0: a free one). The nodes advertise
 * the same address, so it must be one the API server reaches, never 0.0.0.0.
 */
export function kubeletListenFlag(value: string): KubeletAddress {
  const match = /^([0-9.]{7,15}):([0-9]{1,5})$/.exec(value.trim());
  const ip = match?.[1] ?? '';
  const port = Number(match?.[2] ?? Number.NaN);
  if (match === null || !isIPv4(ip) || port > 65_535)
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not <ipv4>:<port> (port 0-65535, 0 = a free one)`,
    );
  if (ip === '0.0.0.0')
    throw new InvalidArgumentError(
      `${JSON.stringify(value)}: the nodes advertise this address, so it must be one the API server reaches, not 0.0.0.0`,
    );
  return { ip, port };
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
        '--kubelet-listen <ip:port>',
        'where the served kubelet API (anex-kubelet) listens; the nodes advertise it, so the API server must reach it (port 0: a free one) (default: 127.0.0.1 and a free port when the API server is on this host)',
      ).argParser(kubeletListenFlag),
    )
    .addOption(
      new Option(
        '--no-kubelet',
        'do not serve the kubelet API (kubectl logs/exec on anex pods then fail)',
      ).conflicts('kubeletListen'),
    )
    .addOption(
      new Option(
        '--kubelet-address <ip:port>',
        'an anex-kubelet you started yourself: the nodes advertise this address and none is served',
      )
        .argParser(kubeletAddressFlag)
        .conflicts('kubeletListen'),
    )
    .addHelpText(
      'after',
      '\n--table <name> alone means real DynamoDB (AWS credentials and region from the environment).\n' +
        '\nProviders: VAST_API_KEY and/or RUNPOD_API_KEY enable them (VAST_API_URL / RUNPOD_API_URL point\n' +
        'them at another endpoint, e.g. `anex sim`). The virtual nodes anex-vastai / anex-runpod are\n' +
        'registered and kept Ready; pods bound to them are reconciled on binding, on deletion and on\n' +
        'every full pass.\n' +
        '\nkubectl logs, exec, attach, cp and port-forward on anex pods go through a kubelet API\n' +
        '(anex-kubelet, docs/tunnel.md). With an agent endpoint (--simulate or --agent-endpoint-url)\n' +
        'anex run builds and serves it (Go; built once into ~/.cache/anex/kubelet) and the nodes\n' +
        'advertise its address: 127.0.0.1 when the API server is on this host, else give an address\n' +
        'of this host the API server reaches with --kubelet-listen. It authenticates the API server\n' +
        "with the kubeconfig's credentials (TokenReview, SubjectAccessReview). Live logs and exec need\n" +
        'the tunnel; a pod that runs without one answers with the log tail saved when its run ended.\n' +
        '\nExamples:\n' +
        '  VAST_API_KEY=... anex run\n' +
        '  anex run --simulate --kubeconfig ./kubeconfig --data-dir /tmp/anex\n' +
        '  anex run --agent-endpoint-url https://... --kubelet-listen 10.0.0.5:10250 ...\n' +
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
