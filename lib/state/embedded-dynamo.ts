import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { AnexError } from '../errors.ts';

/**
 * A DynamoDB-compatible server (dynalite) inside this process, over HTTP on 127.0.0.1,
 * for local mode (`anex run`) and the integration tests. Point the real
 * `@aws-sdk/client-dynamodb` at `endpoint` (any region, any non-empty credentials).
 */
export interface EmbeddedDynamo {
  /** e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  /** Stops accepting requests, waits for in-flight ones and closes the store (flushes `dataDir`). */
  close(): Promise<void>;
}

export interface EmbeddedDynamoOptions {
  /** directory of the on-disk store (LevelDB), kept across restarts; omitted = in memory */
  dataDir?: string;
  /** TCP port on 127.0.0.1 @default 0 (a free port chosen by the kernel) */
  port?: number;
}

interface DynaliteOptions {
  path?: string;
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}

// dynalite is CommonJS without type declarations; this is the one call we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new AnexError(
      `embedded DynamoDB port ${String(port)} is not a TCP port (an integer 0-65535; 0 = any free port)`,
      {
        kind: 'invalid-input',
      },
    );
  }
  // Tables become ACTIVE at once: nothing here benefits from simulated provisioning delays.
  const server = dynalite({
    ...(options.dataDir === undefined ? {} : { path: options.dataDir }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const bound = await listen(server, port, options.dataDir);
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    close: () => close(server),
  };
}

function listen(server: Server, port: number, dataDir: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = dataDir === undefined ? 'in memory' : `with data in ${dataDir}`;
      const hint =
        error.code === 'EADDRINUSE' ? ': the port is in use, choose another or 0 for any free port' : '';
      reject(
        new AnexError(`embedded DynamoDB could not listen on 127.0.0.1:${port} (${where})${hint}`, {
          kind: 'unavailable',
          cause: error,
        }),
      );
    });
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined || error === null ? resolve() : reject(error)));
    // Idle keep-alive sockets of SDK clients would otherwise hold the close open.
    server.closeIdleConnections();
  });
}
