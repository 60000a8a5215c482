import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What a simulator route handler returns; the server writes it. */
export interface SimResponse {
  status: number;
  /** Object → JSON; string → sent as is (some vendors answer errors in plain text). */
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
  /**
   * An answer that stays open after `body` (Server-Sent Events): called once the head and the
   * body are written; it writes more as it likes until it ends the answer or `closed` fires
   * (the client went away, or the simulator stopped), when it must free what it holds.
   */
  stream?: (out: SimStream) => void;
}

/** The open end of a streamed {@link SimResponse}. */
export interface SimStream {
  /** false once the answer ended or the connection closed (nothing more can be sent) */
  write(text: string): boolean;
  end(): void;
  /** aborted when the connection closes, whoever closed it */
  readonly closed: AbortSignal;
}

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body, `undefined` when empty, or the `INVALID_JSON` marker. */
  body: unknown;
  /** size of the raw body in bytes (request size limits) */
  bodyBytes: number;
}

export const INVALID_JSON = Symbol('invalid-json');

export type SimHandler = (request: SimRequest) => Promise<SimResponse | 'hang' | 'reset'>;

/**
 * A loopback HTTP server that can also refuse connections entirely (listener closed, as a
 * host that is down) and come back on the same port.
 */
export class SimHttpServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** the streamed answers still open ({@link SimResponse.stream}); close() ends them before it returns */
  readonly #streams = new Set<AbortController>();
  #port = 0;
  #listening = false;

  constructor(handler: SimHandler) {
    this.#server = createServer((req, res) => {
      void serve(handler, req, res, this.#streams);
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Stops accepting connections (clients see ECONNREFUSED) and drops open ones. */
  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Synchronously, so a stopped simulator holds no stream's timer when close() resolves.
    for (const stream of this.#streams) stream.abort();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port after {@link close}. */
  async reopen(): Promise<void> {
    if (this.#listening) return;
    await this.listen(this.#port);
  }
}

async function serve(
  handler: SimHandler,
  req: IncomingMessage,
  res: ServerResponse,
  streams: Set<AbortController>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const text = await readBody(req);
  const request: SimRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body: parseBody(text),
    bodyBytes: Buffer.byteLength(text),
  };
  let result: SimResponse | 'hang' | 'reset';
  try {
    result = await handler(request);
  } catch (error) {
    result = {
      status: 500,
      body: { error: 'sim_internal', msg: error instanceof Error ? error.message : 'error' },
    };
  }
  if (result === 'hang') return; // never answers; the client's timeout fires
  if (result === 'reset') {
    req.socket.destroy();
    return;
  }
  write(res, result, streams);
}

function write(res: ServerResponse, result: SimResponse, streams: Set<AbortController>): void {
  const isText = typeof result.body === 'string';
  const payload = result.body === undefined ? '' : isText ? String(result.body) : JSON.stringify(result.body);
  const contentType = result.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json');
  const stream = result.stream;
  const typed = payload !== '' || stream !== undefined;
  res.writeHead(result.status, { ...(typed ? { 'content-type': contentType } : {}), ...result.headers });
  if (stream === undefined) {
    res.end(payload);
    return;
  }
  const closed = new AbortController();
  streams.add(closed);
  closed.signal.addEventListener('abort', () => streams.delete(closed), { once: true });
  res.on('close', () => closed.abort());
  // A client already gone before the answer was ready: its 'close' has been and will not come again.
  if (res.destroyed) closed.abort();
  const open = () => !res.writableEnded && !res.destroyed;
  // The head goes out now even with nothing to say yet: the client's fetch resolves on it.
  if (payload === '') res.flushHeaders();
  else res.write(payload);
  stream({
    write: (text) => {
      if (!open()) return false;
      res.write(text);
      return true;
    },
    end: () => {
      if (open()) res.end();
    },
    closed: closed.signal,
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID_JSON;
  }
}

/** The bearer token of a request, or undefined; `?api_key=` is accepted as well (both vendors). */
export function bearerToken(request: SimRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header) : null;
  const token = match?.[1]?.trim() || request.query.get('api_key') || undefined;
  return token || undefined;
}
