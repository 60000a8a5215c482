import { request as plainRequest } from 'node:http';
import { request } from 'node:https';

export interface ProbeTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** for components serving an in-memory self-signed certificate (scheduler, controller-manager) */
  insecure?: boolean;
}

export interface ProbeResult {
  status: number;
  body: string;
}

/** One GET with a short timeout; for readiness polling only (no retries, no keep-alive). */
export function probe(url: string, tls: ProbeTls = {}): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'GET',
      timeout: 5_000,
      agent: false as const,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      rejectUnauthorized: tls.insecure !== true,
    };
    const send = url.startsWith('https:') ? request : plainRequest;
    const req = send(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
