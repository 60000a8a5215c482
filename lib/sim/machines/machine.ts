import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV } from '../../tunnel/agent/env.ts';
import type { ContainerLaunch } from '../common/container.ts';
import { resolveProgram } from '../common/container.ts';
import type { SimImage } from '../common/images.ts';
import {
  attachMachine,
  detachMachine,
  type MachineLink,
  type MachineNetwork,
  machineLink,
} from './network.ts';
import { buildRootfs } from './rootfs.ts';
import { splice } from './splice.ts';

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
  /** a network besides the way to the agent endpoint (namespaces mode only; lib/sim/machines/network.ts) */
  network?: MachineNetwork;
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
 * Namespaces mode with a {@link MachineSpec.network}: the machine also gets a link on that
 * network (lib/sim/machines/network.ts), removed when it stops or exits.
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
  /** the host side of a namespaced machine's way to the agent endpoint */
  #bridge: Server | undefined;
  /** how this machine is kept apart from the host ({@link machineIsolation}) */
  readonly isolation: MachineIsolation;
  /** its link on the machine network, and the attachment under way (resolves, never rejects) */
  #link: { network: MachineNetwork; link: MachineLink; attached: Promise<void> } | undefined;

  constructor(spec: MachineSpec) {
    this.id = spec.id;
    this.dir = spec.dir;
    this.#marker = `${spec.markerPrefix ?? ''}${randomBytes(12).toString('hex')}`;
    this.isolation = machineIsolation();
    if (spec.network !== undefined && this.isolation !== 'namespaces') {
      throw new Error(
        `a machine network needs namespaces mode; machines run plain here (${plainModeReason()})`,
      );
    }
    this.logFile = join(spec.dir, 'container.log');
    mkdirSync(spec.dir, { recursive: true });
    const link = spec.network === undefined ? undefined : machineLink(spec.network, spec.id);
    const log = openSync(this.logFile, 'a');
    try {
      this.#child =
        this.isolation === 'namespaces' ? this.#spawnIsolated(spec, log, link) : this.#spawnPlain(spec, log);
    } finally {
      closeSync(log);
    }
    if (spec.network !== undefined && link !== undefined) this.#attach(spec.network, link);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        this.#bridge?.close();
        void this.#detach();
        resolve(code);
      });
      // spawn failed (e.g. the program vanished): the container never ran.
      this.#child.once('error', () => resolve(127));
    });
  }

  /**
   * Gives the machine its link once its `unshare` has made the network namespace; a failure is
   * written to the container's log (the setup script, waiting for the link, then ends the machine).
   */
  #attach(network: MachineNetwork, link: MachineLink): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    const attached = attachMachine(network, link, pid).catch((error: unknown) => {
      appendFileSync(this.logFile, `anex-machine: ${(error as Error).message}\n`);
    });
    this.#link = { network, link, attached };
  }

  async #detach(): Promise<void> {
    const link = this.#link;
    if (link === undefined) return;
    await link.attached;
    await detachMachine(link.network, link.link);
  }

  /** Plain mode: the image's files in a directory, paths translated into it. */
  #spawnPlain(spec: MachineSpec, log: number): ChildProcess {
    const root = join(spec.dir, 'rootfs');
    buildRootfs(root, spec.image, { hostTools: true });
    const { launch } = spec;
    const path = launch.env.PATH ?? DEFAULT_PATH;
    const first = launch.argv[0] ?? '';
    // The simulator started only a container whose argv[0] the image has (startContainer).
    const program = resolveProgram(first, spec.image, path) ?? first;
    const cwd = join(root, launch.workingDir);
    mkdirSync(cwd, { recursive: true });
    return spawn(join(root, program), launch.argv.slice(1), {
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
        // The agent makes the pod's mounts under the machine's stand-in root (it has no chroot here).
        ANEX_AGENT_ROOT: root,
        [MACHINE_MARKER_ENV]: this.#marker,
      },
      detached: true,
      stdio: ['ignore', log, log],
    });
  }

  /**
   * Namespaces (root): its own mount and PID namespace; an overlay over this host's / (writes
   * land in the machine's directory), the image's programs placed at their own paths, then
   * chroot — so argv, PATH and workingDir are the image's, untranslated, and the container's
   * first process is PID 1: when it ends, the kernel ends the rest, as in a real container.
   */
  #spawnIsolated(spec: MachineSpec, log: number, link: MachineLink | undefined): ChildProcess {
    const endpoint = loopbackTarget(spec.launch.env[AGENT_ENV.url]);
    // A restarted container reuses its directory: the last run's socket and ready flag go first.
    for (const stale of ['endpoint.sock', 'forward.ready']) rmSync(join(spec.dir, stale), { force: true });
    if (endpoint !== undefined) this.#bridge = bridge(join(spec.dir, 'endpoint.sock'), endpoint);
    const stage = join(spec.dir, 'stage');
    buildRootfs(stage, spec.image, { hostTools: false });
    for (const part of ['upper', 'work', 'merged']) mkdirSync(join(spec.dir, part), { recursive: true });
    const { launch } = spec;
    return spawn('unshare', [...UNSHARE, 'sh', '-c', ISOLATED_SETUP, 'anex-machine', ...launch.argv], {
      env: {
        HOME: '/root',
        ...launch.env,
        // The setup runs this host's tools (ip, mount, chroot live in sbin); the container gets its own PATH back.
        PATH: HOST_PATH,
        ANEX_SIM_PATH: launch.env.PATH ?? DEFAULT_PATH,
        ANEX_SIM_DIR: spec.dir,
        ANEX_SIM_WORKDIR: launch.workingDir,
        ...(endpoint === undefined
          ? {}
          : {
              ANEX_SIM_FORWARD: `${endpoint.host}:${endpoint.port}`,
              ANEX_SIM_NODE: process.execPath,
              ANEX_SIM_FORWARDER: FORWARDER,
            }),
        ...(link === undefined ? {} : { ANEX_SIM_LINK: link.inside, ANEX_SIM_ADDRESS: link.address }),
        [MACHINE_MARKER_ENV]: this.#marker,
      },
      detached: true,
      stdio: ['ignore', log, log],
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
    this.#bridge?.close();
    // Whatever is left of the tree (a workload in its own group, a helper) goes too.
    await new Promise((resolve) => setTimeout(resolve, 100));
    this.#signalAll('SIGKILL');
    await this.#detach();
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

/**
 * Runs inside the machine's new mount and PID namespaces (host tools), then chroots into the
 * machine: overlay over /, /proc of the new PID namespace, /dev, the image's stand-in programs
 * at their paths, the working directory; the simulator's own variables are removed before the
 * container's argv runs. With a machine network (network.ts) it first waits for its link,
 * which the host moves in once this namespace exists, and makes it `eth0` with its address and
 * a default route out of it.
 */
const ISOLATED_SETUP = `set -eu
d=$ANEX_SIM_DIR; m=$d/merged; wd=$ANEX_SIM_WORKDIR
ip link set lo up
if [ -n "\${ANEX_SIM_LINK:-}" ]; then
  n=0; while ! ip link show "$ANEX_SIM_LINK" >/dev/null 2>&1; do
    n=$((n+1)); if [ $n -gt 400 ]; then echo "anex-machine: its network link never arrived" >&2; exit 1; fi; sleep 0.025
  done
  ip link set "$ANEX_SIM_LINK" name eth0
  ip addr add "$ANEX_SIM_ADDRESS" dev eth0
  ip link set eth0 up
  ip route add default dev eth0
fi
if [ -n "\${ANEX_SIM_FORWARD:-}" ]; then
  "$ANEX_SIM_NODE" "$ANEX_SIM_FORWARDER" "$ANEX_SIM_FORWARD" "$d/endpoint.sock" "$d/forward.ready" >>"$d/forward.log" 2>&1 &
  n=0; while [ ! -e "$d/forward.ready" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done
fi
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
(cd "$d/stage" && find . -type f) | while read -r f; do mkdir -p "$m/\${f%/*}"; cp "$d/stage/$f" "$m/$f"; done
mkdir -p "$m$wd" "$m/tmp"
c=$(command -v chroot)
export PATH="$ANEX_SIM_PATH"
unset ANEX_SIM_DIR ANEX_SIM_WORKDIR ANEX_SIM_FORWARD ANEX_SIM_NODE ANEX_SIM_FORWARDER ANEX_SIM_PATH ANEX_SIM_LINK ANEX_SIM_ADDRESS
exec "$c" "$m" /bin/sh -c 'cd "$0" && exec "$@"' "$wd" "$@"
`;

/** Where this host's system tools are, whatever PATH this process was started with. */
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type MachineIsolation = 'namespaces' | 'plain';

/** New mount, PID and network namespaces, mounts kept from the host's (util-linux unshare). */
const UNSHARE = ['--mount', '--pid', '--net', '--fork', '--propagation', 'private'] as const;

const FORWARDER = fileURLToPath(new URL('./forward.ts', import.meta.url));

let probed: { isolation: MachineIsolation; why: string } | undefined;

/**
 * `namespaces` when this process may make mount, PID and network namespaces and an overlay
 * over / (root here; tested once), else `plain` (`npm run demo` as a user).
 * ANEX_SIM_ISOLATION=plain forces plain mode.
 */
export function machineIsolation(): MachineIsolation {
  if (process.env.ANEX_SIM_ISOLATION === 'plain') return 'plain';
  probed ??= probeNamespaces();
  return probed.isolation;
}

/** Why machines run in plain mode (for a test's failure message); '' when they do not. */
export function plainModeReason(): string {
  if (process.env.ANEX_SIM_ISOLATION === 'plain') return 'ANEX_SIM_ISOLATION=plain';
  probed ??= probeNamespaces();
  return probed.why;
}

function probeNamespaces(): { isolation: MachineIsolation; why: string } {
  if (process.getuid?.() !== 0) return { isolation: 'plain', why: 'not root' };
  const dir = mkdtempSync(join(tmpdir(), 'anex-machine-probe-'));
  try {
    for (const part of ['upper', 'work', 'merged']) mkdirSync(join(dir, part));
    const probe = spawnSync(
      'unshare',
      [
        ...UNSHARE,
        'sh',
        '-c',
        `ip link set lo up && mount -t overlay overlay -o lowerdir=/,upperdir=${dir}/upper,workdir=${dir}/work ${dir}/merged && chroot ${dir}/merged /bin/true`,
      ],
      { encoding: 'utf8', env: { ...process.env, PATH: HOST_PATH }, timeout: 30_000 },
    );
    return probe.status === 0
      ? { isolation: 'namespaces', why: '' }
      : {
          isolation: 'plain',
          why: `namespace probe failed: ${(probe.stderr || String(probe.error ?? probe.status)).trim()}`,
        };
  } catch (error) {
    return { isolation: 'plain', why: `namespace probe failed: ${(error as Error).message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The host and port of an agent endpoint on this host's loopback (what simulated machines are
 * given), or undefined for any other URL: a namespaced machine reaches nothing else.
 */
function loopbackTarget(url: string | undefined): { host: string; port: number } | undefined {
  const match = url === undefined ? null : /^http:\/\/(127\.0\.0\.1|localhost):(\d+)(\/|$)/.exec(url);
  return match === null ? undefined : { host: match[1] as string, port: Number(match[2]) };
}

/** The host side: each connection on the Unix socket `path` goes to `target` on this host. */
function bridge(path: string, target: { host: string; port: number }): Server {
  const server = createServer((inbound) => splice(inbound, connect(target.port, target.host)));
  server.listen(path);
  server.unref();
  return server;
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
