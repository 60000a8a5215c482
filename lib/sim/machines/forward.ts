/**
 * Runs inside a simulated machine's network namespace (before its chroot), started by the
 * machine's setup script: listens on `<host>:<port>` there and carries each connection over a
 * Unix socket that the runner serves on the host side (lib/sim/machines/machine.ts), which
 * connects it to the same address on the host. So the machine reaches the agent endpoint at
 * the URL it was given, and nothing else of this host.
 *
 * Usage: node forward.ts <host:port> <unix socket> <ready file>
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { splice } from './splice.ts';

const [listen = '', socket = '', ready = ''] = process.argv.slice(2);
const at = listen.lastIndexOf(':');
const host = listen.slice(0, at);
const port = Number(listen.slice(at + 1));
if (!host || !Number.isInteger(port) || !socket || !ready) {
  process.stderr.write('usage: forward.ts <host:port> <unix socket> <ready file>\n');
  process.exit(2);
}
const server = createServer((inbound) => splice(inbound, connect(socket)));
server.listen(port, host, () => writeFileSync(ready, 'ready\n'));
