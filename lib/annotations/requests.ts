import { quantity } from '../kube/env.ts';

/**
 * The containers' summed `resources.requests` (Kubernetes quantities) → cores and MB (2^20
 * bytes, the unit of `anex.sh/ram`); a malformed or absent quantity counts as none (the API
 * server already refused malformed ones).
 */
export function requestsOf(
  requests: readonly Readonly<Record<string, unknown>>[],
): { cpuCores?: number; ramMb?: number } | undefined {
  let cpu = 0;
  let memory = 0;
  for (const r of requests) {
    cpu += quantity(String(r.cpu ?? '0')) ?? 0;
    memory += quantity(String(r.memory ?? '0')) ?? 0;
  }
  if (cpu <= 0 && memory <= 0) return undefined;
  return {
    ...(cpu > 0 ? { cpuCores: cpu } : {}),
    ...(memory > 0 ? { ramMb: memory / 2 ** 20 } : {}),
  };
}
