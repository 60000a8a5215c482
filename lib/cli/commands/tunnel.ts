import { type Command, Option } from 'commander';
import { previewTunnel, type TunnelPreviewOptions } from '../../tunnel/preview.ts';
import { readDocument } from '../offer-files.ts';

interface TunnelConfigFlags {
  pod: string;
  output: 'wireproxy' | 'json';
  vpnCidr?: string;
  dns?: string;
  clusterCidr?: string;
  gatewayEndpoint?: string;
  wstunnelUrl?: string;
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
}

async function runTunnelConfig(flags: TunnelConfigFlags): Promise<void> {
  const pod = await readDocument(flags.pod, 'pod file');
  const options: TunnelPreviewOptions = {
    ...(flags.vpnCidr === undefined ? {} : { vpnCidr: flags.vpnCidr }),
    ...(flags.gatewayEndpoint === undefined ? {} : { gatewayEndpoint: flags.gatewayEndpoint }),
    ...(flags.wstunnelUrl === undefined ? {} : { wstunnelUrl: flags.wstunnelUrl }),
  };
  const dns = list(flags.dns);
  const clusterCidrs = list(flags.clusterCidr);
  const preview = previewTunnel(pod, {
    ...options,
    ...(dns ? { dns } : {}),
    ...(clusterCidrs ? { clusterCidrs } : {}),
  });
  if (flags.output === 'json') {
    process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
    return;
  }
  process.stdout.write(preview.wireproxyConfig);
  if (preview.wstunnelCommand) {
    // INI comments, so the output stays a readable config file.
    process.stdout.write(
      `\n# ${preview.provider} blocks UDP: the agent first starts the wstunnel client\n# ${preview.wstunnelCommand}\n`,
    );
  }
}

/** `anex tunnel config`: the tunnel config a pod's agent would receive, keys as placeholders. */
export function registerTunnel(program: Command): void {
  const tunnel = program.command('tunnel').description('Inspect the WireGuard tunnel anex gives a pod');
  tunnel
    .command('config')
    .description(
      'Print the wireproxy config (and on RunPod the wstunnel client command) the pod would get; keys and addresses are placeholders',
    )
    .requiredOption(
      '--pod <file>',
      'pod manifest (YAML or JSON); GW_TUNNEL_<port>=<host:port> env vars become tunnels',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['wireproxy', 'json'])
        .default('wireproxy'),
    )
    .option('--vpn-cidr <cidr>', 'VPN range (default 10.250.0.0/16)')
    .option('--dns <ips>', 'cluster DNS IPs, comma-separated')
    .option('--cluster-cidr <cidrs>', 'Service/Pod CIDRs routed into the tunnel, comma-separated')
    .option('--gateway-endpoint <host:port>', "gateway's UDP endpoint")
    .option('--wstunnel-url <url>', "gateway's wstunnel server (wss://host[:port])")
    .addHelpText(
      'after',
      '\nInvalid GW_TUNNEL_* variables are listed one per line and exit with code 2.\n' +
        'Example:\n  anex tunnel config --pod pod.yaml\n  anex tunnel config --pod pod.yaml --output json',
    )
    .action((flags: TunnelConfigFlags) => runTunnelConfig(flags));
}
