import type { PaceStore, SlotReservation } from './store.ts';

/**
 * {@link PaceStore} in one process's memory: the ledger of a process without a shared
 * store (a CLI command against the real API, unit tests). Same semantics as DynamoStore's,
 * proven by the store contract suite.
 */
export class MemoryPaceLedger implements PaceStore {
  readonly #next = new Map<string, number>();

  async reserveSlot(
    key: string,
    options: { intervalMs: number; now: number; latest: number },
  ): Promise<SlotReservation> {
    const at = Math.max(options.now, this.#next.get(key) ?? 0);
    if (at > options.latest) return { kind: 'busy', freeAt: at };
    this.#next.set(key, at + options.intervalMs);
    return { kind: 'reserved', at };
  }

  async deferSlot(key: string, notBefore: number): Promise<void> {
    this.#next.set(key, Math.max(notBefore, this.#next.get(key) ?? 0));
  }
}
