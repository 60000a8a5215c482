/** Thrown by every call once the simulated process has died. */
export class SimulatedCrash extends Error {
  constructor(at: string) {
    super(`simulated crash at ${at}`);
    this.name = 'SimulatedCrash';
  }
}

/** Which call kills the process: `kind` is the wrapper's name (`store`, `kube`, `provider`). */
export type CrashPoint = (kind: string, method: string, args: readonly unknown[]) => boolean;

/**
 * A reconcile process that dies at a chosen call. Wrap the pass's own interfaces (Store,
 * Cluster, Provider) with {@link wrap}: the call `at` picks never reaches the real part, and
 * from then on no call does — as when the Lambda is killed mid-pass. What the real parts hold
 * afterwards (records, instances, leases, pod status) is exactly what a crash there leaves.
 */
export class CrashingProcess {
  readonly #at: CrashPoint;
  #diedAt: string | undefined;

  constructor(at: CrashPoint) {
    this.#at = at;
  }

  /** where it died, once it has */
  get diedAt(): string | undefined {
    return this.#diedAt;
  }

  wrap<T extends object>(target: T, kind: string): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value: unknown = Reflect.get(object, property, receiver);
        if (typeof value !== 'function') return value;
        const name = `${kind}.${String(property)}`;
        return (...args: unknown[]) => {
          if (this.#diedAt === undefined && this.#at(kind, String(property), args)) this.#diedAt = name;
          if (this.#diedAt !== undefined) return Promise.reject(new SimulatedCrash(this.#diedAt));
          return (value as (...a: unknown[]) => unknown).apply(object, args);
        };
      },
    });
  }
}
