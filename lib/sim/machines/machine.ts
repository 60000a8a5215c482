import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerLaunch } from '../common/container.ts';
import { resolveProgram } from '../common/container.ts';
import type { SimImage } from '../common/images.ts';
import { buildRootfs } from './rootfs.ts';

/** The env variable that marks every process of one machine (the sweep on stop finds them by it). */
export const MACHINE_MARKER_ENV = 'ANEX_SIM_MACHINE';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface MachineSpec {
  /** the provider's instance id */
  id: string;
  image: SimImage;
  /** what the provider's runtime starts (lib/sim/common/container.ts) */
  launch: ContainerLaunch;
  /** this machine's own directory: its stand-in filesystem and its container log */
  dir: string;
  /** prefix of this machine's marker (the runner's own, so it finds just its machines) */
  markerPrefix?: string;
}

/**
 * One simulated machine: the container's process tree, really running on this host.
 *
 * Plain mode (no privileges needed): the image's filesystem is a directory
 * (lib/sim/machines/rootfs.ts) and paths are translated into it — argv[0], every PATH entry,
 * the working directory, HOME and TMPDIR — so the container's writes stay in the machine's
 * directory. Every process of the machine carries {@link MACHINE_MARKER_ENV}, which is how
 * `stop` finds the ones that left the process group (the agent runs the workload in its own).
 *
 * Contract: `exited` resolves once the container's main process ends (its exit code, or null
 * when a signal ended it); `stop` ends every process of the machine (SIGTERM, then SIGKILL
 * after `graceMs`) and never throws.
 */
export class Machine {
  readonly id: string;
  readonly dir: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  readonly #marker: string;
  readonly #child: ChildProcess;

  constructor(spec: MachineSpec) {
    this.id = spec.id;
    this.dir = spec.dir;
    this.#marker = `${spec.markerPrefix ?? ''}${randomBytes(12).toString('hex')}`;
    const root = join(spec.dir, 'rootfs');
    buildRootfs(root, spec.image);
    this.logFile = join(spec.dir, 'container.log');
    const { launch } = spec;
    const path = launch.env.PATH ?? DEFAULT_PATH;
    const first = launch.argv[0] ?? '';
    // The simulator started only a container whose argv[0] the image has (startContainer).
    const program = resolveProgram(first, spec.image, path) ?? first;
    const cwd = join(root, launch.workingDir);
    mkdirSync(cwd, { recursive: true });
    const log = openSync(this.logFile, 'a');
    try {
      this.#child = spawn(join(root, program), launch.argv.slice(1), {
        argv0: first,
        cwd,
        env: {
          ...launch.env,
          PATH: path
            .split(':')
            .map((dir) => join(root, dir))
            .join(':'),
          HOME: join(root, 'root'),
          TMPDIR: join(root, 'tmp'),
          [MACHINE_MARKER_ENV]: this.#marker,
        },
        detached: true,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => resolve(code));
      // spawn failed (e.g. the program vanished): the container never ran.
      this.#child.once('error', () => resolve(127));
    });
  }

  /** The container's output so far (stdout and stderr, interleaved). */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(graceMs = 2_000): Promise<void> {
    this.#signalAll('SIGTERM');
    const ended = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
    ]);
    if (!ended) this.#signalAll('SIGKILL');
    // Whatever is left of the tree (a workload in its own group, a helper) goes too.
    await new Promise((resolve) => setTimeout(resolve, 100));
    this.#signalAll('SIGKILL');
  }

  #signalAll(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid !== undefined && this.#child.exitCode === null) {
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is gone already
      }
    }
    for (const other of pidsMarked(`${MACHINE_MARKER_ENV}=${this.#marker}`)) {
      try {
        process.kill(other, signal);
      } catch {
        // exited meanwhile
      }
    }
  }
}

/** Processes of simulated machines still alive on this host whose marker starts with `prefix` (leak checks). */
export function liveMachineProcesses(prefix = ''): number[] {
  return pidsMarked((entry) => entry.startsWith(`${MACHINE_MARKER_ENV}=${prefix}`));
}

/** Processes whose environment holds an entry `matches` accepts (readable for our own processes). */
function pidsMarked(matches: string | ((entry: string) => boolean)): number[] {
  const test = typeof matches === 'string' ? (entry: string) => entry === matches : matches;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (environ.split('\0').some(test)) found.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}
