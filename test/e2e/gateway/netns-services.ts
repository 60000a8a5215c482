/**
 * Stand-ins for what lives behind (or beside) the gateway, run inside a network namespace:
 *   node test/e2e/gateway/netns-services.ts '<json spec>'
 * spec: { http: [{ host, port, name }], dns?: { host, records: { "<name>": "<ipv4>" }, recordsFile? } }
 * Each HTTP listener answers `<name>` and logs `hit <name> <path>`; the DNS server answers A
 * queries from `records`, or from the JSON file `recordsFile` read at each query so a test can
 * move a name (NXDOMAIN otherwise, empty answers to other types). Prints `ready`
 * once everything listens.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

interface Spec {
  http: { host: string; port: number; name: string }[];
  dns?: { host: string; records: Record<string, string>; recordsFile?: string };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;

async function main(): Promise<void> {
  for (const listener of spec.http) {
    const server = createServer((req, res) => {
      process.stdout.write(`hit ${listener.name} ${req.url ?? '/'}\n`);
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(listener.name),
      });
      res.end(listener.name);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.host, () => resolve());
    });
  }
  const dns = spec.dns;
  if (dns !== undefined) {
    const records = () =>
      dns.recordsFile === undefined
        ? dns.records
        : (JSON.parse(readFileSync(dns.recordsFile, 'utf8')) as Record<string, string>);
    await serveDns(dns.host, records);
  }
  process.stdout.write('ready\n');
}

function serveDns(host: string, records: () => Record<string, string>): Promise<void> {
  const socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    const answer = dnsAnswer(query, records());
    if (answer !== undefined) socket.send(answer, from.port, from.address);
  });
  return new Promise((resolve) => socket.bind(53, host, () => resolve()));
}

/** RFC 1035 §4: one question in, its answer out (A from `records`). */
function dnsAnswer(query: Buffer, records: Record<string, string>): Buffer | undefined {
  if (query.length < 12) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length) {
    const length = query[at] ?? 0;
    if (length === 0) break;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  const questionEnd = at + 5;
  if (questionEnd > query.length) return undefined;
  const type = query.readUInt16BE(at + 1);
  const name = labels.join('.').toLowerCase();
  const address = records[name];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  const rcode = address === undefined ? 3 : 0;
  header.writeUInt16BE(0x8180 | rcode, 2);
  header.writeUInt16BE(1, 4);
  const answers = address !== undefined && type === 1 ? 1 : 0;
  if (address === undefined || answers === 0) {
    header.writeUInt16BE(0, 6);
    return Buffer.concat([header, query.subarray(12, questionEnd)]);
  }
  header.writeUInt16BE(answers, 6);
  const question = query.subarray(12, questionEnd);
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(1, 2);
  record.writeUInt16BE(1, 4);
  record.writeUInt32BE(5, 6);
  record.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => {
    record[12 + i] = Number(octet);
  });
  return Buffer.concat([header, question, record]);
}

main().catch((error: unknown) => {
  process.stderr.write(`netns-services: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
