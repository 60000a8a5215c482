import { z } from 'zod';

/**
 * zod schemas of the RunPod REST v2 payloads anex reads. Loose objects: unknown fields are
 * kept and ignored; only what the mapper needs is required. Catalog schemas are the
 * normalizer's (lib/offers/normalize/runpod.ts), so saved and live catalogs read the same.
 */
export {
  runPodDataCenterListSchema,
  runPodGpuListSchema,
} from '../../offers/normalize/runpod.ts';

const runtimePort = z.looseObject({
  private: z.number().int().nullish(),
  public: z.number().int().nullish(),
  type: z.string().nullish(),
  ip: z.string().nullish(),
});

/** openapi `Pod` (the fields anex uses). */
export const runPodPodSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  status: z.string(),
  env: z.record(z.string(), z.string()).nullish(),
  gpu: z.looseObject({ id: z.string(), count: z.number().int().nullish() }).nullish(),
  cost: z.number().nullish(),
  createdAt: z.string().nullish(),
  dataCenterId: z.string().nullish(),
  runtime: z.looseObject({ uptime: z.number().nullish(), ports: z.array(runtimePort).nullish() }).nullish(),
  ssh: z.looseObject({ direct: z.looseObject({ host: z.string().nullish() }).nullish() }).nullish(),
  /** the registry credential id it pulls with (ContainerConfig `registry`), for the credential sweep */
  registry: z.string().nullish(),
});
export type RunPodPod = z.infer<typeof runPodPodSchema>;

/**
 * `GET /v2/pods`. `pagination` is not in the docs spec; SkyPilot follows it (providers.md
 * §3.8), so it is read when present.
 */
export const runPodListSchema = z.looseObject({
  pods: z.array(runPodPodSchema),
  pagination: z
    .looseObject({ nextCursor: z.string().nullish(), hasNextPage: z.boolean().nullish() })
    .nullish(),
});

/** RFC 9457 problem+json. */
export const runPodProblemSchema = z.looseObject({
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  errors: z.array(z.string()).optional(),
});

/** OpenAPI `Registry`: a registry credential's id and name (the login is write-only). */
export const registrySchema = z.object({ id: z.string(), name: z.string() }).loose();

/** OpenAPI `ListRegistriesResponse`. */
export const registryListSchema = z.object({ registries: z.array(registrySchema) }).loose();
