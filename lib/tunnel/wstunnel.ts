import { InvalidInputError } from '../errors.ts';

/**
 * The wstunnel client the agent runs where UDP is blocked: WireGuard's UDP goes over a
 * WebSocket (TLS) to the gateway's wstunnel server, which forwards it to the WireGuard port.
 * The binary is anex's own build (lib/tunnel/agent-build/wstunnel, ADR 0009), whose command
 * line is upstream wstunnel's, so an operator's upstream pin runs the same arguments.
 *
 * Security: upstream's client verifies TLS only with `--tls-verify-certificate` (anex's always
 * does; the flag stays for upstream); the upgrade path prefix is the shared secret, so it
 * travels in the environment (WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX), never in argv, which any
 * process can read.
 */
export const WSTUNNEL_PREFIX_ENV = 'WSTUNNEL_HTTP_UPGRADE_PATH_PREFIX';
/** wireproxy's `Endpoint` on this path: the local end of the wstunnel client. */
export const DEFAULT_WSTUNNEL_LOCAL_PORT = 51820;

export interface WstunnelClientOptions {
  /** the gateway's wstunnel server, `wss://host[:port]` */
  serverUrl: string;
  /** UDP port the client listens on, on 127.0.0.1 */
  localPort?: number;
  /**
   * Where the server sends the UDP: must equal the literal in the server's `--restrict-to`
   * (it matches the requested host exactly; `localhost` ≠ `127.0.0.1`).
   */
  remote?: string;
}

export interface WstunnelClientCommand {
  /** arguments after the `wstunnel` binary */
  args: string[];
  /** names of env vars the client needs; values are secrets supplied at run time */
  secretEnv: string[];
  /** `127.0.0.1:<localPort>`, wireproxy's Endpoint */
  localEndpoint: string;
}

export const DEFAULT_WSTUNNEL_REMOTE = '127.0.0.1:51820';

export function wstunnelClientCommand(options: WstunnelClientOptions): WstunnelClientCommand {
  const localPort = options.localPort ?? DEFAULT_WSTUNNEL_LOCAL_PORT;
  const remote = options.remote ?? DEFAULT_WSTUNNEL_REMOTE;
  const issues: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(options.serverUrl);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'wss:' || url.pathname !== '/' || url.search || url.username) {
    issues.push(
      `wstunnel server URL ${JSON.stringify(options.serverUrl)} must be wss://host[:port] (TLS, no path: the path prefix is a secret passed by env)`,
    );
  }
  if (!Number.isInteger(localPort) || localPort < 1 || localPort > 65535) {
    issues.push(`wstunnel local port ${localPort} must be from 1 to 65535`);
  }
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(remote))
    issues.push(`wstunnel remote ${JSON.stringify(remote)} must be host:port`);
  if (issues.length > 0 || !url) throw new InvalidInputError(issues);
  return {
    args: [
      'client',
      '--tls-verify-certificate',
      '-L',
      `udp://127.0.0.1:${localPort}:${remote}?timeout_sec=0`,
      `${url.protocol}//${url.host}`,
    ],
    secretEnv: [WSTUNNEL_PREFIX_ENV],
    localEndpoint: `127.0.0.1:${localPort}`,
  };
}

/** For display (CLI, docs): the command line with the secret shown as a reference, never its value. */
export function formatWstunnelCommand(command: WstunnelClientCommand): string {
  const env = command.secretEnv.map((name) => `${name}="$${name}"`).join(' ');
  const args = command.args.map((a) => (/^[A-Za-z0-9_./:=@-]+$/.test(a) ? a : `'${a}'`)).join(' ');
  return `${env} wstunnel ${args}`;
}
