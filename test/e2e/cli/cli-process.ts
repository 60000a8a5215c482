import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../support/index.ts';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/anex.js', import.meta.url));

/** `node bin/anex.js …` as a child process, its output collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** exit code (or 128 + signal number style null) once it has exited */
  readonly exited: Promise<number | null>;
  /** waits until `pattern` appears on stdout or stderr */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<string>;
  /** SIGKILL if still running (afterEach safety net) */
  kill(): void;
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  // process.execPath is the Node 24 running vitest.
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, what, timeoutMs = 60_000) {
      let found = '';
      await eventually(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`exited ${child.exitCode} before ${what}:\n${out}\n${err}`);
          const match = pattern.exec(out + err);
          if (match === null) throw new Error(`no ${what} yet; output so far:\n${out}\n${err}`);
          found = match[0];
          return true;
        },
        { what, timeoutMs },
      );
      return found;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
