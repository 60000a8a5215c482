/**
 * Kubernetes time formats. `metav1.Time` is RFC 3339 at second precision: the API server
 * truncates anything finer, so times we compare against what we read back (to skip no-op
 * status writes) must be produced with {@link kubeTime}. `metav1.MicroTime` (Lease
 * renewTime, Event eventTime) must have exactly six fractional digits: Go parses it with a
 * fixed `.000000` layout and refuses JavaScript's three.
 */
export function kubeTime(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/Z$/, '000Z');
}

/** A time as read from client-node (a Date, or a string for MicroTime fields) → kubeTime form. */
export function readTime(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : kubeTime(ms);
}
