import { connect } from 'node:net';

// Moved to lib/local/control-plane (shared with `anex demo`).
export { freePort, freePorts } from '../../lib/local/control-plane/ports.ts';

/** Whether something accepts TCP connections on 127.0.0.1:`port` right now. */
export function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
