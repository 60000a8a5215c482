import { InvalidArgumentError } from 'commander';

/** commander parser for a positive number of seconds, returned in milliseconds. */
export function seconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a positive number of seconds (e.g. 15)`);
  }
  return Math.round(Number(value) * 1000);
}

/** commander parser for a TCP port (0 = any free port). */
export function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a TCP port (0-65535; 0 = any free port)`);
  }
  return Number(value);
}

/** Timestamped log line on stderr (stdout stays for machine-readable output). */
export function logLine(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}
