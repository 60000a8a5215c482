import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestGroundError } from './errors.ts';

/**
 * Network namespaces for tests that run real network parts (the cluster gateway's
 * wireguard-go, iptables): named `anx<id>-<role>`, where `<id>` is derived from this
 * process's pid, so a later run can tell leftovers of a dead run from a live one and remove
 * them. Needs root and `ip` (iproute2); every failure names the command and its output.
 */

/** Runs a command, returning stdout; throws naming the command and what it printed. */
export function run(command: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(input === undefined ? {} : { input }),
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** The Debian packages the real gateway needs, by the command each provides. */
export const GATEWAY_PACKAGES: Readonly<Record<string, string>> = {
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
  ip: 'iproute2',
  curl: 'curl',
  getent: 'libc-bin',
  openssl: 'openssl',
};

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the gateway's tools are installed: missing ones are installed from Debian
 * packages with apt-get (as root). Throws a TestGroundError with the reason when that is not
 * possible — the test fails, it never skips.
 */
export function ensureGatewayTools(): void {
  const missing = Object.keys(GATEWAY_PACKAGES).filter((c) => !has(c));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((c) => GATEWAY_PACKAGES[c] ?? c))];
    if (process.getuid?.() !== 0) {
      throw new TestGroundError(
        'gateway tools',
        `${missing.join(', ')} missing and this is not root: apt-get install ${packages.join(' ')}`,
      );
    }
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const install = ['install', '-y', '--no-install-recommends', ...packages];
      try {
        execFileSync('apt-get', install, { stdio: 'pipe', env, timeout: 600_000 });
      } catch {
        // A fresh image has no package lists yet.
        execFileSync('apt-get', ['update'], { stdio: 'pipe', env, timeout: 600_000 });
        execFileSync('apt-get', install, { stdio: 'pipe', env, timeout: 600_000 });
      }
    } catch (error) {
      const output = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message);
      throw new TestGroundError(
        'gateway tools',
        `apt-get install ${packages.join(' ')} failed: ${output.trim().slice(-500)}`,
        { cause: error },
      );
    }
    const still = Object.keys(GATEWAY_PACKAGES).filter((c) => !has(c));
    if (still.length > 0)
      throw new TestGroundError('gateway tools', `${still.join(', ')} still missing after apt-get install`);
  }
  if (process.getuid?.() !== 0)
    throw new TestGroundError('network namespaces', 'creating namespaces and iptables rules needs root');
  if (!existsSync('/dev/net/tun'))
    throw new TestGroundError(
      'network namespaces',
      '/dev/net/tun is missing: wireguard-go needs a TUN device',
    );
}

const PREFIX = 'anx';

/** This process's namespace id: 4 digits, so interface names stay under 15 characters. */
function idOf(pid: number): string {
  return String(pid % 10_000).padStart(4, '0');
}

/** Removes namespaces (and their /etc/netns files) left by runs whose process is gone. */
function reapLeftovers(): void {
  const names = run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(PREFIX));
  for (const name of names) {
    const pidFile = join('/run/anex-netns', name);
    let owner = 0;
    try {
      owner = Number(execFileSync('cat', [pidFile], { encoding: 'utf8' }).trim());
    } catch {
      owner = 0;
    }
    let alive = false;
    try {
      if (owner > 0) process.kill(owner, 0);
      alive = owner > 0;
    } catch {
      alive = false;
    }
    if (!alive) removeNamespace(name);
  }
}

function removeNamespace(name: string): void {
  try {
    execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
      .split('\n')
      .filter((p) => p !== '')
      .forEach((p) => {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          // already gone
        }
      });
  } catch {
    // no such namespace
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  rmSync(join('/etc/netns', name), { recursive: true, force: true });
  rmSync(join('/run/anex-netns', name), { force: true });
}

/** A set of namespaces and root-side links, removed together by {@link NetnsGround.close}. */
export class NetnsGround {
  readonly id = idOf(process.pid);
  readonly #namespaces: string[] = [];
  readonly #rootLinks: string[] = [];

  constructor() {
    reapLeftovers();
    // A previous run of this very pid number (reused) may have left the same names.
    for (const name of run('ip', ['netns', 'list']).split('\n')) {
      const ns = name.split(' ')[0] ?? '';
      if (ns.startsWith(`${PREFIX}${this.id}-`)) removeNamespace(ns);
    }
  }

  /** `anx<id>-<role>`. */
  name(role: string): string {
    return `${PREFIX}${this.id}-${role}`;
  }

  /**
   * Creates the namespace with loopback up. `etc` files (`resolv.conf`, `hosts`) replace the
   * machine's under `ip netns exec` (iproute2 bind-mounts /etc/netns/<name>/* over /etc).
   */
  add(role: string, options: { etc?: Readonly<Record<string, string>> } = {}): string {
    const ns = this.name(role);
    run('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    mkdirSync('/run/anex-netns', { recursive: true });
    writeFileSync(join('/run/anex-netns', ns), String(process.pid));
    for (const [file, text] of Object.entries(options.etc ?? {})) {
      mkdirSync(join('/etc/netns', ns), { recursive: true });
      writeFileSync(join('/etc/netns', ns, file), text);
    }
    this.exec(role, ['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a command in the namespace of `role` (`root`: this process's own). */
  exec(role: string, args: readonly string[], input?: string): string {
    const [command, ...rest] = args;
    if (command === undefined) throw new Error('exec: no command');
    if (role === 'root') return run(command, rest, input);
    return run('ip', ['netns', 'exec', this.name(role), command, ...rest], input);
  }

  /** The argv that runs `args` in `role`'s namespace (for spawning long-running processes). */
  argv(role: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.name(role), ...args] };
  }

  /**
   * A veth pair between two namespaces (`root` for this one), each end with an address
   * (`a.b.c.d/n`) and up. Interface names: `v<id><tag>a` / `v<id><tag>b`.
   */
  link(
    tag: string,
    a: { role: string; address?: string },
    b: { role: string; address?: string; master?: string },
  ): { a: string; b: string } {
    const names = { a: `v${this.id}${tag}a`, b: `v${this.id}${tag}b` };
    run('ip', ['link', 'add', names.a, 'type', 'veth', 'peer', 'name', names.b]);
    for (const [end, side] of [
      [names.a, a],
      [names.b, b],
    ] as const) {
      if (side.role === 'root') this.#rootLinks.push(end);
      else run('ip', ['link', 'set', end, 'netns', this.name(side.role)]);
      if (side.address !== undefined) this.exec(side.role, ['ip', 'addr', 'add', side.address, 'dev', end]);
      if ('master' in side && side.master !== undefined)
        this.exec(side.role, ['ip', 'link', 'set', end, 'master', side.master]);
      this.exec(side.role, ['ip', 'link', 'set', end, 'up']);
    }
    return names;
  }

  /** Removes one namespace of this ground (killing what still runs in it); never throws. */
  remove(role: string): void {
    const ns = this.name(role);
    const at = this.#namespaces.indexOf(ns);
    if (at >= 0) this.#namespaces.splice(at, 1);
    removeNamespace(ns);
  }

  /** Whether `role`'s namespace exists (e.g. to check a ground removed it). */
  has(role: string): boolean {
    return run('ip', ['netns', 'list'])
      .split('\n')
      .some((line) => line.split(' ')[0] === this.name(role));
  }

  /** Removes every namespace (killing what still runs in it) and root-side link; never throws. */
  close(): void {
    for (const ns of [...this.#namespaces].reverse()) removeNamespace(ns);
    for (const link of this.#rootLinks) {
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {
        // gone with its peer's namespace
      }
    }
  }
}
