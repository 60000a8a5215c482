import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerStart } from '../common/container.ts';
import { findSimImage } from '../common/images.ts';
import type { RunningInstance } from '../common/sim-core.ts';
import { liveMachineProcesses, Machine, machineIsolation, plainModeReason } from './machine.ts';
import type { MachineNetwork } from './network.ts';

/** What the runner needs of a marketplace simulator (VastAiSim, RunPodSim). */
export interface MachineHost {
  /** instances whose container the provider's runtime has started now */
  runningInstances(): RunningInstance[];
  containerOf(id: string): ContainerStart | undefined;
  /** the container's main process ended: does the provider restart it? */
  containerExited(id: string, code: number | null): 'restart' | 'stop';
  /**
   * Given once, at the runner's construction: reads what instance `id`'s container printed
   * (stdout and stderr, running or ended), so the provider's log API serves the real output.
   */
  readContainerLogs?(read: (id: string) => string | undefined): void;
}

export interface MachineRunnerOptions {
  hosts: Readonly<Record<string, MachineHost>>;
  /** progress worded for a person (never a token: only ids, images and exit codes) @default nothing */
  onEvent?: (message: string) => void;
  /** how often the simulators are asked what runs @default 250 */
  pollMs?: number;
  /** a crash-looping container is restarted this long after its exit (RunPod) @default 1_000 */
  restartDelayMs?: number;
  /** parent of the machines' directories @default a fresh temp dir, removed on stop */
  dir?: string;
  /**
   * A network every machine joins besides its way to the agent endpoint (network.ts);
   * namespaces mode only: the constructor throws in plain mode. @default none (loopback only)
   */
  network?: MachineNetwork;
}

interface Running {
  machine: Machine;
  /**
   * `restarting`: exited, the provider starts it again after a pause (the entry holds the key
   * meanwhile); `retiring`: its instance stopped running, the runner is stopping it (its end is
   * not the container's own exit, so the simulator is not told of one).
   */
  state: 'running' | 'restarting' | 'retiring';
}

/**
 * Runs, as real processes on this host, every container the simulators say is running
 * (lib/sim/machines/machine.ts), and tells each simulator when a container's main process
 * ends, so the marketplace reacts as the real one does (Vast: `exited`; RunPod: restart).
 * A machine whose instance is no longer running (destroyed, stopped) is stopped: SIGTERM,
 * then SIGKILL.
 *
 * Contract: `sync` is idempotent and never throws; `stop` ends every machine and removes
 * their directories. Nothing is started for an instance whose container could not start.
 */
export class MachineRunner {
  readonly #options: MachineRunnerOptions;
  readonly #machines = new Map<string, Running>();
  /**
   * The directories of containers waiting for their restart, by key: a restarted container
   * keeps its filesystem (Docker restarts the same container; the agent's restart marker
   * lives there), only its processes are new.
   */
  readonly #kept = new Map<string, string>();
  /** What each ended machine printed (its last 64 KiB), by key: tests read it after the destroy. */
  readonly #logs = new Map<string, string>();
  readonly #dir: string;
  readonly #ownsDir: boolean;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #stopped = false;
  #serial = 0;
  readonly #marker = `${randomBytes(4).toString('hex')}.`;

  constructor(options: MachineRunnerOptions) {
    if (options.network !== undefined && machineIsolation() !== 'namespaces') {
      throw new Error(
        `MachineRunner: a machine network needs namespaces mode (root); machines run plain here (${plainModeReason()})`,
      );
    }
    this.#options = options;
    this.#ownsDir = options.dir === undefined;
    this.#dir = options.dir ?? mkdtempSync(join(tmpdir(), 'anex-machines-'));
    for (const [host, sim] of Object.entries(options.hosts)) {
      sim.readContainerLogs?.((id) => this.logOf(`${host}/${id}`));
    }
  }

  /** Syncs every `pollMs` until stopped. */
  start(): void {
    this.#timer ??= setInterval(() => {
      this.#round = this.#round.then(() => this.sync());
    }, this.#options.pollMs ?? 250);
    this.#timer.unref();
  }

  /** Processes of this runner's machines still alive on this host (the leak check). */
  liveProcesses(): number[] {
    return liveMachineProcesses(this.#marker);
  }

  /** Machines now running, by `<host>/<instance id>`. */
  machines(): ReadonlyMap<string, Machine> {
    return new Map([...this.#machines].map(([key, running]) => [key, running.machine]));
  }

  /** What the machine `<host>/<instance id>` printed: running, or ended during this run. */
  logOf(key: string): string | undefined {
    return this.#machines.get(key)?.machine.log() ?? this.#logs.get(key);
  }

  async sync(): Promise<void> {
    if (this.#stopped) return;
    const wanted = new Set<string>();
    for (const [host, sim] of Object.entries(this.#options.hosts)) {
      for (const instance of sim.runningInstances()) {
        const key = `${host}/${instance.id}`;
        wanted.add(key);
        if (this.#machines.has(key)) continue;
        this.#boot(host, sim, instance);
      }
    }
    // Running or waiting for its restart: an instance no longer running takes its machine along.
    const gone = [...this.#machines].filter(([key]) => !wanted.has(key));
    await Promise.all(gone.map(([key, running]) => this.#retire(key, running)));
    for (const [key, dir] of this.#kept) {
      if (wanted.has(key) || this.#machines.has(key)) continue;
      this.#kept.delete(key);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#round;
    await Promise.all([...this.#machines].map(([key, running]) => this.#retire(key, running)));
    for (const dir of this.#kept.values()) rmSync(dir, { recursive: true, force: true });
    this.#kept.clear();
    if (this.#ownsDir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #say(message: string): void {
    this.#options.onEvent?.(message);
  }

  #boot(host: string, sim: MachineHost, instance: RunningInstance): void {
    const start = sim.containerOf(instance.id);
    const image = instance.image === undefined ? undefined : findSimImage(instance.image);
    if (start?.ok !== true || image === undefined) return;
    const key = `${host}/${instance.id}`;
    this.#serial += 1;
    const kept = this.#kept.get(key);
    this.#kept.delete(key);
    let machine: Machine;
    try {
      machine = new Machine({
        id: instance.id,
        image,
        launch: start.launch,
        markerPrefix: this.#marker,
        ...(this.#options.network === undefined ? {} : { network: this.#options.network }),
        dir:
          kept ?? join(this.#dir, `${host}-${instance.id}-${this.#serial}`.replace(/[^A-Za-z0-9._-]/g, '_')),
      });
    } catch (error) {
      this.#say(`simulated machine ${key}: cannot start: ${(error as Error).message}`);
      return;
    }
    const running: Running = { machine, state: 'running' };
    this.#machines.set(key, running);
    this.#say(`simulated machine ${key}: ${image.ref} started ${JSON.stringify(start.launch.argv[0])}`);
    void machine.exited.then((code) => this.#exited(key, sim, running, code));
  }

  #exited(key: string, sim: MachineHost, running: Running, code: number | null): void {
    if (this.#stopped || this.#machines.get(key) !== running || running.state !== 'running') return;
    const next = sim.containerExited(running.machine.id, code);
    this.#say(`simulated machine ${key}: container exited with code ${code ?? 'signal'} (${next})`);
    if (next === 'stop') {
      // Vast: the instance shows `exited` and is no longer running; nothing restarts it.
      this.#machines.delete(key);
      this.#cleanUp(key, running);
      return;
    }
    // RunPod's restart policy: after a pause, the next sync starts the same container again —
    // its filesystem kept, its processes new.
    running.state = 'restarting';
    setTimeout(() => {
      if (this.#machines.get(key) !== running) return;
      this.#machines.delete(key);
      if (this.#stopped) this.#cleanUp(key, running);
      else this.#kept.set(key, running.machine.dir);
    }, this.#options.restartDelayMs ?? 1_000).unref();
  }

  async #retire(key: string, running: Running): Promise<void> {
    running.state = 'retiring';
    await running.machine.stop();
    this.#cleanUp(key, running);
    if (this.#machines.get(key)?.machine === running.machine) this.#machines.delete(key);
    this.#say(`simulated machine ${key}: stopped`);
  }

  #cleanUp(key: string, running: Running): void {
    this.#logs.set(key, running.machine.log().slice(-65_536));
    rmSync(running.machine.dir, { recursive: true, force: true });
  }
}
