import type { AgentBackend, AgentLaunch, Liveness, StatusReport } from './types.ts';

export interface RecordedStatus extends StatusReport {
  at: number;
}

/**
 * In-memory {@link AgentBackend} for tests and experiments: launches are registered by the
 * test, reports are kept in order. Pods are alive from `addPod` until `endPod`.
 */
export class MemoryAgentBackend implements AgentBackend {
  readonly #launches = new Map<string, AgentLaunch>();
  readonly #credentials = new Map<string, string>();
  readonly #reports = new Map<string, RecordedStatus[]>();
  readonly #ended = new Set<string>();
  readonly #grace = new Map<string, number>();

  addPod(launch: AgentLaunch): void {
    this.#launches.set(launch.podUid, launch);
    this.#ended.delete(launch.podUid);
  }

  /** The pod was deleted or finished: no bootstrap, and the agent is told to stop within `graceSeconds`. */
  endPod(podUid: string, graceSeconds = 0): void {
    this.#ended.add(podUid);
    this.#grace.set(podUid, graceSeconds);
  }

  reports(podUid: string): readonly RecordedStatus[] {
    return this.#reports.get(podUid) ?? [];
  }

  /** Every stored credential hash (tests check that no clear credential is kept). */
  storedCredentialHashes(): string[] {
    return [...this.#credentials.values()];
  }

  async getLaunch(podUid: string): Promise<AgentLaunch | undefined> {
    return this.#ended.has(podUid) ? undefined : this.#launches.get(podUid);
  }

  async saveStatusCredential(podUid: string, hash: string): Promise<void> {
    this.#credentials.set(podUid, hash);
  }

  async getStatusCredentialHash(podUid: string): Promise<string | undefined> {
    return this.#credentials.get(podUid);
  }

  async recordStatus(podUid: string, report: StatusReport, options: { now: number }): Promise<void> {
    const list = this.#reports.get(podUid) ?? [];
    const last = list.at(-1);
    // Idempotent: the agent repeats a report until it is acknowledged.
    if (
      last &&
      last.state === report.state &&
      last.exitCode === report.exitCode &&
      last.restartCount === report.restartCount &&
      last.ready === report.ready
    )
      return;
    list.push({ ...report, at: options.now });
    this.#reports.set(podUid, list);
  }

  async liveness(podUid: string): Promise<Liveness> {
    const alive = this.#launches.has(podUid) && !this.#ended.has(podUid);
    return alive ? { alive: true } : { alive: false, graceSeconds: this.#grace.get(podUid) ?? 0 };
  }
}
