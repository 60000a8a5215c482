import type { AgentBackend, AgentLaunch, AttemptView, Liveness, StatusReport } from './types.ts';

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
  readonly #attempts = new Map<string, AttemptView>();

  addPod(launch: AgentLaunch): void {
    this.#launches.set(launch.podUid, launch);
    this.#ended.delete(launch.podUid);
  }

  /** The pod was deleted or finished: no bootstrap, and the agent is told to stop within `graceSeconds`. */
  endPod(podUid: string, graceSeconds = 0): void {
    this.#ended.add(podUid);
    this.#grace.set(podUid, graceSeconds);
  }

  /**
   * Binds the pod's bootstrap to an attempt, as the reconciler's record does (ADR 0021); a
   * later call replaces it (the next attempt). Unbound pods: the token alone decides.
   */
  bindAttempt(podUid: string, attempt: Omit<AttemptView, 'bootstrapped'>): void {
    this.#attempts.set(podUid, { ...attempt, bootstrapped: false });
    this.#credentials.delete(podUid);
  }

  /** The attempt ended (released, replaced): its token and status credential stop working. */
  endAttempt(podUid: string): void {
    this.#attempts.set(podUid, { instanceBound: false, bootstrapped: false });
    this.#credentials.delete(podUid);
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

  async attempt(podUid: string): Promise<AttemptView | undefined> {
    const attempt = this.#attempts.get(podUid);
    return attempt === undefined ? undefined : { ...attempt };
  }

  async saveStatusCredential(podUid: string, hash: string, tokenHash?: string): Promise<boolean> {
    const attempt = this.#attempts.get(podUid);
    if (attempt !== undefined && tokenHash !== undefined) {
      if (attempt.tokenHash !== tokenHash) return false;
      this.#attempts.set(podUid, { ...attempt, bootstrapped: true });
    }
    this.#credentials.set(podUid, hash);
    return true;
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
