import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type BinaryFiles, serveBinary } from './binaries.ts';
import { handleAgentRequest } from './handler.ts';
import { fail, MAX_REQUEST_BYTES } from './http.ts';
import type { AgentEndpointDeps, AgentResponse } from './types.ts';

export interface AgentEndpointServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A tiny node:http adapter around {@link handleAgentRequest} for local mode and tests.
 * Plain HTTP: put it behind TLS (or use it on loopback only) — agents accept http:// only
 * with their explicit insecure flag.
 */
export async function serveAgentEndpoint(options: {
  port: number;
  host?: string;
  deps: AgentEndpointDeps;
  /** files served at GET /v1/binaries/<name>/<arch> (local mode's self-built agent binaries) */
  binaries?: BinaryFiles;
}): Promise<AgentEndpointServer> {
  const host = options.host ?? '127.0.0.1';
  const binaries = options.binaries ?? {};
  const server = createServer((req, res) => {
    if (serveBinary(req, res, binaries)) return;
    void respond(req, options.deps).then((response) => {
      res.writeHead(response.status, response.headers);
      res.end(response.body);
    });
  });
  await listen(server, options.port, host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function respond(req: IncomingMessage, deps: AgentEndpointDeps): Promise<AgentResponse> {
  const body = await readBody(req);
  if (body === undefined) return fail(413, `request body exceeds ${MAX_REQUEST_BYTES} bytes`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers[name] = value;
  }
  const sourceIp = req.socket.remoteAddress;
  return handleAgentRequest(
    {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body,
      ...(sourceIp === undefined ? {} : { sourceIp }),
    },
    deps,
  );
}

/** The body as text, or undefined once it passes the largest route's limit (reading stops there; each route checks its own). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
