import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger per cold start. Service name and level come from the
 * environment the stack sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL). Callers log ids
 * (pod UID, namespace/name, instance id, request uid) and error kinds — never secret values,
 * request bodies or kubeconfigs.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'anex' });

/** Fields of an error that are safe to log: its class, kind and message (ours never hold secrets). */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const kind = 'kind' in error ? String(error.kind) : 'unexpected';
    return { errorName: error.name, errorKind: kind, errorMessage: error.message };
  }
  return { errorKind: 'unexpected', errorMessage: String(error) };
}
