import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlPlaneError } from './errors.ts';

/** A child process in its own process group, logging stdout+stderr to a file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** Last `lines` lines of its log, for error messages. */
  logTail(lines?: number): string;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * A temporary directory plus the processes started in it, torn down together.
 *
 * Teardown is guaranteed three ways: `close()` (normal path, SIGTERM then SIGKILL per
 * process group, newest first, then the directory); a synchronous hook on `exit` and on
 * SIGINT/SIGTERM/SIGHUP of this Node process; and a detached `sh` reaper that waits for this
 * Node process to die (even by SIGKILL) and then kills the groups and removes the directory.
 */
export interface ProcessScope {
  readonly dir: string;
  spawn(options: SpawnOptions): ManagedProcess;
  close(stopTimeoutMs?: number): Promise<void>;
}

const REAPER_SCRIPT = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
manifest=$(cat "$2" 2>/dev/null) || exit 0
printf '%s\\n' "$manifest" | while read -r kind value; do
  [ "$kind" = pgid ] && kill -KILL "-$value" 2>/dev/null
done
sleep 1
printf '%s\\n' "$manifest" | while read -r kind value; do
  [ "$kind" = dir ] && rm -rf "$value"
done
`;

const emergencyHooks = new Set<() => void>();
/** scopes whose owner handles SIGINT/SIGTERM itself (an orderly shutdown needs the processes) */
const exitOnlyHooks = new Set<() => void>();
let hooksInstalled = false;

export interface ProcessScopeOptions {
  /**
   * Kill the processes on SIGINT/SIGTERM/SIGHUP of this Node process at once. `false` when the
   * caller shuts down in order on a signal (`anex demo` deletes its pod first); the `exit`
   * hook and the reaper still guarantee nothing outlives the process. @default true
   */
  killOnSignal?: boolean;
}

export function createProcessScope(prefix: string, options: ProcessScopeOptions = {}): ProcessScope {
  installExitHooks();
  const hooks = options.killOnSignal === false ? exitOnlyHooks : emergencyHooks;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const manifest = join(dir, '.reaper-manifest');
  appendFileSync(manifest, `dir ${dir}\n`);
  const reaper = spawn('sh', ['-c', REAPER_SCRIPT, 'anex-reaper', String(process.pid), manifest], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  const processes: ManagedProcess[] = [];
  const emergency = (): void => {
    for (const child of processes) killGroup(child.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    if (reaper.pid !== undefined) killGroup(reaper.pid, 'SIGKILL');
  };
  hooks.add(emergency);
  return {
    dir,
    spawn(options) {
      const child = spawnManaged(dir, options);
      processes.push(child);
      appendFileSync(manifest, `pgid ${child.pid}\n`);
      return child;
    },
    async close(stopTimeoutMs = 15_000) {
      for (const child of [...processes].reverse()) await stopProcess(child, stopTimeoutMs);
      hooks.delete(emergency);
      await rm(dir, { recursive: true, force: true });
      if (reaper.pid !== undefined) killGroup(reaper.pid, 'SIGKILL');
    },
  };
}

function spawnManaged(dir: string, options: SpawnOptions): ManagedProcess {
  const logPath = join(dir, `${options.name}.log`);
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true, // own process group: the whole tree can be signalled at once
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
    });
    if (child.pid === undefined) {
      throw new ControlPlaneError(options.name, `could not start ${options.command}`);
    }
    let running = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        running = false;
        resolve({ code, signal });
      });
      child.once('error', () => {
        running = false;
        resolve({ code: null, signal: null });
      });
    });
    return {
      name: options.name,
      pid: child.pid,
      logPath,
      exited,
      isRunning: () => running,
      logTail: (lines = 30) => tailOf(logPath, lines),
    };
  } finally {
    closeSync(fd);
  }
}

async function stopProcess(child: ManagedProcess, timeoutMs: number): Promise<void> {
  if (!child.isRunning()) return;
  killGroup(child.pid, 'SIGTERM');
  const stopped = await Promise.race([
    child.exited.then(() => true),
    sleep(timeoutMs, undefined, { ref: false }).then(() => false),
  ]);
  if (!stopped) {
    killGroup(child.pid, 'SIGKILL');
    await child.exited;
  }
  // Children of the leader that outlived it (none expected) go too.
  killGroup(child.pid, 'SIGKILL');
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is the goal.
  }
}

function tailOf(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function runEmergencyHooks(): void {
  for (const hook of emergencyHooks) {
    try {
      hook();
    } catch {
      // best effort: the reaper is the last resort
    }
  }
  emergencyHooks.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    runEmergencyHooks();
    for (const hook of exitOnlyHooks) {
      try {
        hook();
      } catch {
        // best effort: the reaper is the last resort
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runEmergencyHooks();
      process.off(signal, onSignal);
      // Keep the default behaviour (terminate) unless the host (vitest) handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export interface WaitOptions {
  /** what is awaited, for the error message, e.g. "kube-apiserver /readyz" */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** fail at once (with its log) if this process exits while waiting */
  process?: ManagedProcess;
}

/** Polls `probe` until it returns true; throws a ControlPlaneError naming `what` otherwise. */
export async function waitUntil(probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.process !== undefined && !options.process.isRunning()) {
      const { code, signal } = await options.process.exited;
      throw new ControlPlaneError(
        options.process.name,
        `exited (code ${code}, signal ${signal}) while waiting for ${options.what}; log ${options.process.logPath}:\n${options.process.logTail()}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 150);
  }
  const name = options.process?.name ?? options.what;
  const tail =
    options.process === undefined ? '' : `; log ${options.process.logPath}:\n${options.process.logTail()}`;
  throw new ControlPlaneError(name, `${options.what} not ready after ${options.timeoutMs} ms${tail}`, {
    cause: lastError,
  });
}
