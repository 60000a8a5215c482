import { createServer, get, request } from 'node:http';
import { connect } from 'node:net';

/** A plain HTTP service standing in for a service "in the cluster", behind the gateway. */
export async function startHttpService(
  body: string,
): Promise<{ port: number; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    // An explicit length: through wireproxy a close does not reach the client (half-close).
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET `url` directly, or through an HTTP proxy (plain GET, which wireproxy supports). */
export function httpGet(
  url: string,
  options: { proxyPort?: number; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const timeout = options.timeoutMs ?? 10_000;
    const onResponse = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      options.proxyPort === undefined
        ? get(url, { timeout, agent: false }, onResponse)
        : request(
            {
              host: '127.0.0.1',
              port: options.proxyPort,
              path: url,
              method: 'GET',
              timeout,
              agent: false,
              headers: { host: new URL(url).host },
            },
            onResponse,
          );
    // wireproxy leaves a client hanging when a dial fails: every request needs a timeout.
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (options.proxyPort !== undefined) req.end();
  });
}

/** Opens a raw TCP connection, sends an HTTP/1.1 GET and returns the whole reply. */
export function rawTcpGet(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`TCP 127.0.0.1:${port} timed out`)));
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: tunnel\r\nConnection: close\r\n\r\n'));
    socket.setEncoding('utf8').on('data', (c: string) => {
      data += c;
      // wireproxy's TCP tunnel keeps the client side open after the server closes, so the
      // reply is complete when Content-Length bytes of body have arrived.
      if (replyComplete(data)) {
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

function replyComplete(data: string): boolean {
  const split = data.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, split));
  return split >= 0 && length !== null && Buffer.byteLength(data.slice(split + 4)) >= Number(length[1]);
}
