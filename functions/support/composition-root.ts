import { AnexError } from '../../lib/errors.ts';
import { type CredentialsOf, loadCredentials } from './credentials.ts';
import { type FunctionEnv, readFunctionEnv } from './env.ts';
import { emfMetricSink, type MetricSink } from './metrics.ts';
import { SECRET_LAYOUT, type SecretConsumer } from './secret-layout.ts';

/**
 * The composition root: dependencies are built here once per cold start (on the first
 * invocation) and reused by every later invocation of the same container. Each function
 * takes only the part it needs — reconciler-root.ts for tick and pod-events, admission-root.ts,
 * agent-root.ts — so a bundle never carries a client it does not use (the admission bundle
 * has no Kubernetes client).
 */

/**
 * Memoizes an async builder. A failed build is forgotten, so a transient failure (Secrets
 * Manager throttled) is retried by the next invocation instead of poisoning the container.
 */
export function once<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

let env: FunctionEnv | undefined;

/** The deployment variables (cheap; parsed once). */
export function functionEnv(): FunctionEnv {
  env ??= readFunctionEnv(process.env);
  return env;
}

/** A variable the stack always sets for this function; its absence is a deployment bug. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined)
    throw new AnexError(`${name} is not set on this function (redeploy the stack)`, { kind: 'internal' });
  return value;
}

const loaded = new Map<SecretConsumer, () => Promise<unknown>>();

/**
 * `consumer`'s secret, read once per cold start. A function is given only its own secret's
 * ARN (secret-layout.ts), so asking for another one is a deployment bug and fails loudly.
 */
export function credentials<C extends SecretConsumer>(consumer: C): Promise<CredentialsOf[C]> {
  let load = loaded.get(consumer);
  if (load === undefined) {
    load = once(() =>
      loadCredentials(
        required(functionEnv().secretArns[consumer] as string | undefined, SECRET_LAYOUT[consumer].env),
        consumer,
      ),
    );
    loaded.set(consumer, load);
  }
  return load() as Promise<CredentialsOf[C]>;
}

export const metrics: MetricSink = emfMetricSink();
