import { z } from 'zod';

/**
 * zod schemas of the Vast.ai payloads anex reads. Loose objects: unknown fields are kept and
 * ignored (Vast adds columns often); only what the mapper needs is required.
 */

const num = z.number();
const optNum = z.number().nullish();

/** One row of `POST /api/v0/bundles/` → `offers[]`. */
export const vastOfferRowSchema = z.looseObject({
  id: z.number().int(),
  machine_id: z.number().int(),
  host_id: z.number().int().nullish(),
  gpu_name: z.string(),
  num_gpus: num,
  gpu_ram: num,
  gpu_total_ram: optNum,
  gpu_mem_bw: optNum,
  total_flops: optNum,
  compute_cap: optNum,
  cuda_max_good: optNum,
  cpu_cores_effective: optNum,
  cpu_ram: optNum,
  dph_total: num,
  inet_up: optNum,
  inet_down: optNum,
  disk_space: optNum,
  disk_bw: optNum,
  dlperf: optNum,
  geolocation: z.string().nullish(),
  verification: z.string().nullish(),
  hosting_type: optNum,
});
export type VastOfferRow = z.infer<typeof vastOfferRowSchema>;

export const vastSearchResponseSchema = z.looseObject({ offers: z.array(vastOfferRowSchema) });

/** Any create answer, success or not: `new_contract` may appear even in an error body. */
export const vastCreateResponseSchema = z.looseObject({
  success: z.boolean().optional(),
  new_contract: z.number().int().nullish(),
  error: z.string().optional(),
  msg: z.string().optional(),
});

/** An instance as `GET /api/v0/instances/{id}/` and the v1 list return it. */
export const vastInstanceSchema = z.looseObject({
  id: z.number().int(),
  label: z.string().nullish(),
  machine_id: z.number().int().nullish(),
  actual_status: z.string().nullish(),
  intended_status: z.string().nullish(),
  cur_state: z.string().nullish(),
  status_msg: z.string().nullish(),
  extra_env: z.array(z.array(z.string())).nullish(),
  gpu_name: z.string().nullish(),
  num_gpus: optNum,
  dph_total: optNum,
  start_date: optNum,
  public_ipaddr: z.string().nullish(),
});
export type VastInstance = z.infer<typeof vastInstanceSchema>;

/** Plural key wrapping one object, or null for an unknown or destroyed id. */
export const vastShowResponseSchema = z.looseObject({ instances: vastInstanceSchema.nullable() });

export const vastListResponseSchema = z.looseObject({
  instances: z.array(vastInstanceSchema),
  next_token: z.string().nullish(),
});

export const vastDestroyResponseSchema = z.looseObject({
  success: z.boolean().optional(),
  error: z.string().optional(),
  msg: z.string().optional(),
});
