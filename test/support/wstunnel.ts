import { generatePki } from '../../lib/local/control-plane/certs.ts';
import {
  type ManagedProcess,
  type ProcessScope,
  waitUntil,
} from '../../lib/local/control-plane/processes.ts';
import { wstunnelBinary } from './agent-build.ts';
import { freePort, tcpAccepts } from './ports.ts';

/** A running anex wstunnel server, as the cluster gateway runs it, on 127.0.0.1 with TLS. */
export interface WstunnelServer {
  /** `wss://localhost:<port>`: the URL agents are configured with */
  url: string;
  port: number;
  /** the CA that signed its certificate: clients trust it through SSL_CERT_FILE */
  caFile: string;
  process: ManagedProcess;
}

/**
 * Starts `wstunnel server --restrict-to <restrictTo> wss://127.0.0.1:<port>` (the gateway's
 * command line, TLS terminated by wstunnel) with a certificate for localhost / 127.0.0.1 from a
 * throwaway CA, the path prefix by environment as the gateway's Secret gives it, and waits
 * until it accepts connections.
 */
export async function startWstunnelServer(
  scope: ProcessScope,
  options: { restrictTo: string; pathPrefix: string },
): Promise<WstunnelServer> {
  const pki = await generatePki(scope.dir);
  const port = await freePort();
  const process = scope.spawn({
    name: 'wstunnel-server',
    command: wstunnelBinary(),
    args: [
      'server',
      '--restrict-to',
      options.restrictTo,
      '--tls-certificate',
      pki.servingCert,
      '--tls-private-key',
      pki.servingKey,
      `wss://127.0.0.1:${port}`,
    ],
    env: {
      PATH: globalThis.process.env.PATH,
      WSTUNNEL_RESTRICT_HTTP_UPGRADE_PATH_PREFIX: options.pathPrefix,
    },
  });
  await waitUntil(() => tcpAccepts(port), {
    what: `wstunnel server on 127.0.0.1:${port}`,
    timeoutMs: 15_000,
    process,
  });
  return { url: `wss://localhost:${port}`, port, caFile: pki.caCert, process };
}
