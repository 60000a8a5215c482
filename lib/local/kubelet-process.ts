import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { AnexError } from '../errors.ts';
import { probe } from './control-plane/http-probe.ts';
import { createProcessScope, type ManagedProcess } from './control-plane/processes.ts';

/**
 * anex-kubelet as a child of `anex run` / `anex demo` (issue #15, ADR 0023 "Local mode"): the
 * kubelet API of the virtual nodes, reading pod addresses and saved log tails from this
 * process's agent endpoint with a credential only the two of them share.
 */

export interface KubeletAddress {
  ip: string;
  port: number;
}

/** How a crashed anex-kubelet is started again: a few times, each wait longer, then never. */
export interface RestartPolicy {
  /** restarts in a row before giving up */
  maxRestarts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** a run at least this long starts the count afresh */
  stableMs: number;
}

/** @default 5 restarts, 1 s doubling to 30 s; ten quiet minutes reset the count */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRestarts: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  stableMs: 600_000,
};

/** The wait before restart number `restart` (1-based), or undefined: do not restart again. */
export function restartDelay(policy: RestartPolicy, restart: number): number | undefined {
  if (restart < 1 || restart > policy.maxRestarts) return undefined;
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (restart - 1));
}

/** The command line: the token travels as a file name only, never as an argument. */
export function kubeletArgs(options: {
  kubeconfig: string;
  agentUrl: string;
  tokenFile: string;
  address: KubeletAddress;
}): string[] {
  const { ip, port } = options.address;
  return [
    `--kubeconfig=${options.kubeconfig}`,
    `--agent-url=${options.agentUrl}`,
    `--peers-token-file=${options.tokenFile}`,
    `--listen=${ip}:${port}`,
    // The self-signed serving certificate names the address the nodes advertise.
    `--advertise-address=${ip}`,
  ];
}

/**
 * The one kubeconfig file anex-kubelet reads (it takes a single file): the given one, else
 * $KUBECONFIG when it names one file, else ~/.kube/config. Undefined when $KUBECONFIG lists
 * several (kubectl merges them; anex-kubelet cannot).
 */
export function kubeconfigFile(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  home: string = homedir(),
): string | undefined {
  if (explicit !== undefined) return resolve(explicit);
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
  if (files.length > 1) return undefined;
  return resolve(files[0] ?? join(home, '.kube', 'config'));
}

/** The endpoint's URL as a process on this host reaches it: a wildcard listen is loopback. */
export function loopbackUrl(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === 'localhost') url.hostname = '127.0.0.1';
  return url.toString().replace(/\/$/, '');
}

/** A free TCP port on `ip` (the kernel's choice), for a listen address given with port 0. */
export function freePortOn(ip: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (error) =>
      reject(
        new AnexError(`cannot listen on ${ip}: ${error.message}`, { kind: 'invalid-input', cause: error }),
      ),
    );
    server.listen(0, ip, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** One run of the binary, as the supervisor sees it. */
export interface KubeletChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logTail(lines: number): string;
}

/** Where the binary runs: real child processes, or a fake in unit tests. */
export interface KubeletLauncher {
  /** a directory only this user reads (the token file goes there) */
  readonly dir: string;
  /** where the runs' output goes, for the user */
  readonly logPath: string;
  spawn(args: readonly string[]): KubeletChild;
  healthy(address: KubeletAddress): Promise<boolean>;
  /** stops every run and removes `dir` */
  close(): Promise<void>;
}

/**
 * Real children in a process scope (lib/local/control-plane/processes.ts): each in its own
 * process group, so Ctrl-C at the terminal reaches `anex run`, which stops it in order; the
 * scope's exit hook and reaper kill it if `anex run` dies first. Its environment is PATH and
 * HOME only: the providers' API keys stay in this process.
 */
export function processLauncher(binary: string): KubeletLauncher {
  const scope = createProcessScope('anex-kubelet', { killOnSignal: false });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? homedir() };
  return {
    dir: scope.dir,
    logPath: join(scope.dir, 'anex-kubelet.log'),
    spawn: (args): ManagedProcess => scope.spawn({ name: 'anex-kubelet', command: binary, args, env }),
    // /healthz is unauthenticated; the certificate is self-signed for the advertised address.
    healthy: async ({ ip, port }) =>
      (await probe(`https://${ip}:${port}/healthz`, { insecure: true })).status === 200,
    close: () => scope.close(5_000),
  };
}

export interface KubeletProcessOptions {
  launcher: KubeletLauncher;
  /** the kubeconfig file anex-kubelet reads (kubeconfigFile) */
  kubeconfig: string;
  /** the agent endpoint on loopback (anex-kubelet sends the token over http only there) */
  agentUrl: string;
  /** the credential the endpoint takes for GET /v1/peers and /v1/logs; written to a 0600 file */
  token: string;
  /** where it listens; the nodes advertise the same address */
  address: KubeletAddress;
  log: (line: string) => void;
  /** @default DEFAULT_RESTART_POLICY */
  restart?: RestartPolicy;
  /** how long /healthz may take to answer after a start @default 30_000 */
  healthTimeoutMs?: number;
  /** @default 200 */
  healthIntervalMs?: number;
}

export interface ServedKubelet {
  readonly address: KubeletAddress;
  readonly logPath: string;
  /** stops it (no restart follows) and removes its directory, token file included */
  stop(): Promise<void>;
}

/**
 * Starts anex-kubelet and waits for its /healthz; restarts it when it dies (bounded by the
 * policy, each time with a log line), until `stop`.
 * @throws AnexError (`unavailable`) when the first start does not answer /healthz in time
 */
export async function startKubeletProcess(options: KubeletProcessOptions): Promise<ServedKubelet> {
  const { launcher, address, log } = options;
  const tokenFile = join(launcher.dir, 'peers-token');
  writeFileSync(tokenFile, options.token, { mode: 0o600 });
  const args = kubeletArgs({ ...options, tokenFile });
  const health = {
    timeoutMs: options.healthTimeoutMs ?? 30_000,
    intervalMs: options.healthIntervalMs ?? 200,
  };
  const first = launcher.spawn(args);
  try {
    await waitHealthy(launcher, first, address, health);
  } catch (error) {
    await launcher.close();
    throw error;
  }
  const stopped = new AbortController();
  const supervised = supervise({
    launcher,
    args,
    first,
    policy: options.restart ?? DEFAULT_RESTART_POLICY,
    health,
    address,
    log,
    signal: stopped.signal,
  });
  return {
    address,
    logPath: launcher.logPath,
    async stop() {
      stopped.abort();
      await launcher.close();
      await supervised;
    },
  };
}

interface Health {
  timeoutMs: number;
  intervalMs: number;
}

async function waitHealthy(
  launcher: KubeletLauncher,
  child: KubeletChild,
  address: KubeletAddress,
  health: Health,
): Promise<void> {
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void child.exited.then((how) => {
    exited = how;
  });
  const deadline = Date.now() + health.timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new AnexError(
        `anex-kubelet exited (${describeExit(exited)}) before answering /healthz on ${address.ip}:${address.port}:\n${child.logTail(10)}`,
        { kind: 'unavailable' },
      );
    }
    if (await launcher.healthy(address).catch(() => false)) return;
    await sleep(health.intervalMs);
  }
  throw new AnexError(
    `anex-kubelet did not answer /healthz on ${address.ip}:${address.port} within ${health.timeoutMs / 1000} s:\n${child.logTail(10)}`,
    { kind: 'unavailable' },
  );
}

/** Waits for each run to end and starts the next, until stopped or the policy gives up. */
async function supervise(options: {
  launcher: KubeletLauncher;
  args: readonly string[];
  first: KubeletChild;
  policy: RestartPolicy;
  health: Health;
  address: KubeletAddress;
  log: (line: string) => void;
  signal: AbortSignal;
}): Promise<void> {
  const { launcher, policy, log, signal } = options;
  let child = options.first;
  let startedAt = Date.now();
  let restarts = 0;
  for (;;) {
    const exit = await child.exited;
    if (signal.aborted) return;
    const ranMs = Date.now() - startedAt;
    restarts = ranMs >= policy.stableMs ? 1 : restarts + 1;
    const delay = restartDelay(policy, restarts);
    const what = `anex-kubelet exited (${describeExit(exit)}) after ${(ranMs / 1000).toFixed(1)} s`;
    const tail = indent(child.logTail(5));
    if (delay === undefined) {
      log(
        `${what}; not restarting it after ${policy.maxRestarts} restarts: kubectl logs and exec on anex pods fail until this process is restarted. Its last lines:\n${tail}`,
      );
      return;
    }
    log(
      `${what}; restarting it in ${delay / 1000} s (restart ${restarts} of ${policy.maxRestarts}). Its last lines:\n${tail}`,
    );
    await sleep(delay, signal);
    if (signal.aborted) return;
    child = launcher.spawn(options.args);
    startedAt = Date.now();
    // A failed restart shows as the next exit; only a healthy one is worth a line.
    void waitHealthy(launcher, child, options.address, options.health).then(
      () => log(`anex-kubelet is serving again on ${options.address.ip}:${options.address.port}`),
      () => undefined,
    );
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal === null ? `code ${exit.code}` : `signal ${exit.signal}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        done();
      },
      { once: true },
    );
  });
}
