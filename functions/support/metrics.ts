/**
 * Custom metrics, written as CloudWatch Embedded Metric Format lines on stdout: CloudWatch
 * Logs turns them into metrics without a PutMetricData call (no extra permission, no extra
 * latency, nothing to flush). The stack's alarms (infra/constructs/anex-alarms.ts) watch
 * these names.
 */
export const METRICS = {
  namespace: 'Anex',
  /** tagged instances found with no live pod (destroyed by the garbage-collection pass) */
  leakedInstances: 'LeakedInstances',
  /** credentials refused by a provider or the Kubernetes API server, or a bad webhook token */
  authFailures: 'AuthFailures',
  /** an agent credential refused in a way an honest agent never causes: replay or theft (ADR 0021) */
  agentAuthFailures: 'AgentAuthFailures',
  /** percent of the most used spend limit, written only at 80% or more (ADR 0019) */
  spendLimitUse: 'SpendLimitUse',
} as const;

export type MetricName = (typeof METRICS)[Exclude<keyof typeof METRICS, 'namespace'>];

export interface MetricSink {
  /**
   * Adds `value` to the metric. `properties` (e.g. provider, podUid) are logged with the data
   * point for searching but are not metric dimensions: the alarms watch the undimensioned metric.
   */
  count(name: MetricName, value: number, properties?: Readonly<Record<string, string>>): void;
}

/** Builds one EMF document (exported for tests). */
export function emfDocument(options: {
  name: MetricName;
  value: number;
  properties: Readonly<Record<string, string>>;
  now: number;
}): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: options.now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS.namespace,
          Dimensions: [[]],
          Metrics: [{ Name: options.name, Unit: 'Count' }],
        },
      ],
    },
    ...options.properties,
    [options.name]: options.value,
  };
}

/** Writes EMF lines through `write` (stdout in Lambda). */
export function emfMetricSink(
  write: (line: string) => void = (line) => process.stdout.write(line),
  clock: () => number = Date.now,
): MetricSink {
  return {
    count(name, value, properties = {}) {
      write(`${JSON.stringify(emfDocument({ name, value, properties, now: clock() }))}\n`);
    },
  };
}
