/** Calls made during a pass, by `<kind>.<method>` (e.g. `kube.listPods`, `store.putPod`, `vastai.create`). */
export type CallCounts = Record<string, number>;

/**
 * Wraps one of our interfaces so every method call is counted — how the bench and the
 * tests see "calls per pass by kind" on any implementation, fake or real. The wrapper is
 * transparent: methods run on the original object (private fields keep working).
 */
export function counting<T extends object>(target: T, kind: string, counts: CallCounts): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const key = `${kind}.${String(property)}`;
      return (...args: unknown[]) => {
        counts[key] = (counts[key] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** Totals by kind: `{ kube: 3, store: 5, vastai: 1 }`. */
export function totalsByKind(counts: CallCounts): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const [key, n] of Object.entries(counts)) {
    const kind = key.slice(0, key.indexOf('.'));
    totals[kind] = (totals[kind] ?? 0) + n;
  }
  return totals;
}
