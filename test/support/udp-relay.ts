import { createSocket, type RemoteInfo } from 'node:dgram';

/**
 * A UDP relay on 127.0.0.1 standing in for the wstunnel client on the RunPod path: datagrams
 * from the local wireproxy go to the gateway's WireGuard port, replies come back to the
 * last sender (one client, as with the real per-container wstunnel client).
 */
export interface UdpRelay {
  readonly port: number;
  /** datagrams forwarded towards the gateway */
  readonly forwarded: () => number;
  close(): Promise<void>;
}

export async function startUdpRelay(options: {
  listenPort: number;
  target: { host: string; port: number };
}): Promise<UdpRelay> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let client: RemoteInfo | undefined;
  let forwarded = 0;
  front.on('message', (message, from) => {
    client = from;
    forwarded += 1;
    back.send(message, options.target.port, options.target.host);
  });
  back.on('message', (message) => {
    if (client) front.send(message, client.port, client.address);
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(options.listenPort, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: options.listenPort,
    forwarded: () => forwarded,
    close: async () => {
      await Promise.all([
        new Promise<void>((r) => front.close(() => r())),
        new Promise<void>((r) => back.close(() => r())),
      ]);
    },
  };
}
