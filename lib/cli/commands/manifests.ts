import type { Command } from 'commander';
import { parseManifestFlags } from '../../manifests/options.ts';
import { buildManifests, formatManifests } from '../../manifests/render.ts';

/** `anex manifests`: the cluster side of a deployment, for `kubectl apply -f -`. */
export function registerManifests(program: Command): void {
  program
    .command('manifests')
    .description(
      'Print the Kubernetes objects anex needs (namespace, the reconciler and agent ServiceAccounts + tokens, ' +
        'least-privilege RBAC by node name, an admission policy keeping them to the anex nodes and their pods, ' +
        'validating and mutating admission webhooks, gateway) for `kubectl apply -f -`',
    )
    .option(
      '--webhook-url <url>',
      'admission Function URL with its token path: <AdmissionUrl>admit/<webhookToken> (the mutating webhook gets mutate/<webhookToken>)',
    )
    .option('--agent-url <url>', 'agent Function URL (stack output AgentUrl), for the gateway')
    .option('--namespace <name>', 'namespace for the ServiceAccount and gateway', 'anex-system')
    .option('--nodes <names>', 'comma-separated virtual node names', 'anex-vastai,anex-runpod')
    .option(
      '--gateway-image <ref>',
      'WireGuard gateway image (lib/tunnel/gateway/image); with --agent-url adds the gateway',
    )
    .option('--vpn-range <cidr>', "VPN range, the same as the functions' ANEX_VPN_RANGE", '10.99.0.0/16')
    .option(
      '--gateway-udp-service <type>',
      "LoadBalancer or NodePort for the gateway's UDP port",
      'LoadBalancer',
    )
    .option('--wstunnel-tls-secret <name>', "kubernetes.io/tls Secret for the gateway's wstunnel (wss)")
    .option(
      '--allowed-cidrs <cidr,...>',
      'a ceiling on what any agent may reach through the gateway: your Service and Pod CIDRs, e.g. ' +
        '"10.96.0.0/12,10.244.0.0/16" (each agent reaches only what its pod declares anyway; ADR 0020)',
    )
    .option('--gateway-node-cidrs <cidr,...>', "the nodes' networks: refused to agents unless opted in")
    .option(
      '--gateway-api-server-cidrs <cidr,...>',
      "the API server's endpoint addresses: refused to agents unless opted in",
    )
    .option('--gateway-dns <ip,...>', "cluster DNS addresses agents may query (default: the gateway pod's)")
    .option(
      '--gateway-allow <api-server,nodes,metadata>',
      "opt-ins: let pods' declared destinations reach the API server, the nodes or cloud metadata",
    )
    .option(
      '--env-namespaces <names>',
      "comma-separated namespaces whose Secrets and ConfigMaps pods' env may read (a get-only Role in each); " +
        'elsewhere such a pod is held with the reason',
    )
    .option(
      '--rent-namespaces <names>',
      'the namespaces that may rent (the same list as ANEX_RENT_NAMESPACES, or "*"): the webhooks look only at those',
    )
    .option(
      '--iam-auth',
      'the functions authenticate with IAM (EKS access entries, docs/deploy.md): print no long-lived ' +
        'ServiceAccount token Secrets',
    )
    .option('-o, --output <format>', 'yaml (multi-document) or json (a v1 List)', 'yaml')
    .addHelpText(
      'after',
      '\nExample:\n  anex manifests --webhook-url "$ADMISSION_URL"admit/"$TOKEN" | kubectl apply -f -\n' +
        '  anex manifests --webhook-url ... --agent-url "$AGENT_URL" --gateway-image REF \\\n' +
        '    --allowed-cidrs 10.96.0.0/12,10.244.0.0/16 | kubectl apply -f -\n' +
        'Exit codes: 0 printed, 2 invalid flags (each bad value named). See docs/deploy.md for the whole sequence.',
    )
    .action((flags: Record<string, string | boolean | undefined>) => {
      const { options, format } = parseManifestFlags(flags);
      const { objects, notes } = buildManifests(options);
      for (const note of notes) process.stderr.write(`anex manifests: ${note}\n`);
      process.stdout.write(formatManifests(objects, format));
    });
}
