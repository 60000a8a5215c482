/**
 * The largest create body: the same docs revision answers 413 above 102400 bytes (runpod audit
 * §1, "a 413 for bodies over 102400 bytes").
 */
export const CREATE_POD_MAX_BYTES = 102_400;

/**
 * `CreatePodRequest` checks the simulator applies before anything else (openapi: the schema
 * has `unevaluatedProperties: false`, so an unknown field is a 422 listing it).
 */
const TOP_LEVEL = new Set([
  'name',
  'image',
  'args',
  // Exec-form overrides: runpod/docs create-a-pod.mdx at 4962c60, quoted in the runpod audit
  // (#1): "`entrypoint` (array): Container ENTRYPOINT in exec form, overriding the image's
  // own", "`cmd` (array)". Not in the 2026-08 OpenAPI copy; the newer docs win.
  'entrypoint',
  'cmd',
  'disk',
  'env',
  'ports',
  'registry',
  'cloud',
  'cpu',
  'dataCenterIds',
  'globalNetworking',
  'gpu',
  'mounts',
  'startJupyter',
  'startSsh',
  'templateId',
]);
// create-a-pod.mdx at 4962c60 adds the placement floors `minVcpuCountPerGpu`, `minRamPerGpu` (runpod audit #12).
const GPU_KEYS = new Set([
  'id',
  'count',
  'allowedCudaVersions',
  'minCudaVersion',
  'minVcpuCountPerGpu',
  'minRamPerGpu',
]);
const VERSION = /^\d+\.\d+$/;

/** Every violation as the live API words them (`$.field: …`); empty when valid. */
export function createPodErrors(body: unknown): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return ['$: expected object'];
  const b = body as Record<string, unknown>;
  const errors = Object.keys(b)
    .filter((key) => !TOP_LEVEL.has(key))
    .map((key) => `$: additional properties '${key}' not allowed`);
  if (typeof b.name !== 'string' || b.name.length === 0) errors.push('$.name: required non-empty string');
  if (b.templateId === undefined && typeof b.image !== 'string')
    errors.push('$.image: required when templateId is absent');
  if (b.disk !== undefined && !(Number.isInteger(b.disk) && (b.disk as number) >= 1))
    errors.push('$.disk: must be an integer >= 1');
  errors.push(...containerErrors(b));
  if (b.cloud !== undefined && b.cloud !== 'SECURE' && b.cloud !== 'COMMUNITY') {
    errors.push('$.cloud: value must be one of "SECURE", "COMMUNITY"');
  }
  if (b.env !== undefined && !isStringRecord(b.env)) errors.push('$.env: values must be strings');
  if (b.ports !== undefined && !isStringArray(b.ports)) errors.push('$.ports: must be an array of strings');
  if (b.dataCenterIds !== undefined && !isStringArray(b.dataCenterIds))
    errors.push('$.dataCenterIds: must be an array of strings');
  if (b.gpu !== undefined) errors.push(...gpuErrors(b.gpu));
  return errors;
}

/** ContainerConfig's fields: `args` a string, `entrypoint`/`cmd` string arrays, `registry` [string, null]. */
function containerErrors(b: Record<string, unknown>): string[] {
  const errors: string[] = [];
  if (b.args !== undefined && typeof b.args !== 'string') errors.push('$.args: must be a string');
  if (b.registry !== undefined && b.registry !== null && typeof b.registry !== 'string')
    errors.push('$.registry: must be a string or null');
  for (const key of ['entrypoint', 'cmd'] as const) {
    if (b[key] !== undefined && !isStringArray(b[key])) errors.push(`$.${key}: must be an array of strings`);
  }
  return errors;
}

function gpuErrors(gpu: unknown): string[] {
  if (gpu === null || typeof gpu !== 'object' || Array.isArray(gpu)) return ['$.gpu: expected object'];
  const g = gpu as Record<string, unknown>;
  const errors = Object.keys(g)
    .filter((key) => !GPU_KEYS.has(key))
    .map((key) => `$.gpu: additional properties '${key}' not allowed`);
  if (typeof g.id !== 'string') errors.push('$.gpu.id: required string');
  for (const key of ['count', 'minVcpuCountPerGpu', 'minRamPerGpu']) {
    if (g[key] !== undefined && !(Number.isInteger(g[key]) && (g[key] as number) >= 1))
      errors.push(`$.gpu.${key}: must be an integer >= 1`);
  }
  if (
    g.minCudaVersion !== undefined &&
    !(typeof g.minCudaVersion === 'string' && VERSION.test(g.minCudaVersion))
  ) {
    errors.push('$.gpu.minCudaVersion: must match ^\\d+\\.\\d+$');
  }
  if (
    g.allowedCudaVersions !== undefined &&
    !(isStringArray(g.allowedCudaVersions) && g.allowedCudaVersions.every((v) => VERSION.test(v)))
  ) {
    errors.push('$.gpu.allowedCudaVersions: items must match ^\\d+\\.\\d+$');
  }
  return errors;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isStringRecord(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}
