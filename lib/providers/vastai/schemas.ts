import { z } from 'zod';

/**
 * zod schemas of the Vast.ai payloads anex reads. Loose objects: unknown fields are kept and
 * ignored (Vast adds columns often); only what the mapper needs is required.
 */

const optNum = z.number().nullish();

/**
 * Offer rows and the search answer are the normalizer's schemas (lib/offers/normalize), so
 * `anex offers --offers <file>` and the live client read rows the same way.
 */
export {
  type VastOfferRow,
  vastOfferSchema,
  vastSearchResponseSchema,
} from '../../offers/normalize/vastai.ts';

/**
 * Any create answer, success or not: `new_contract` may appear even in an error body. `error`
 * and `msg` may be null in a success body (unconfirmed, vast audit #17): a null must never
 * throw the `new_contract` away.
 */
export const vastCreateResponseSchema = z.looseObject({
  success: z.boolean().nullish(),
  new_contract: z.number().int().nullish(),
  error: z.string().nullish(),
  msg: z.string().nullish(),
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
  /** the image as created; status messages embed it (`success, running <image>/args`) */
  image_uuid: z.string().nullish(),
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

/** Rows are checked one by one (client.ts): one odd row must not hide the others. */
export const vastListResponseSchema = z.looseObject({
  instances: z.array(z.unknown()),
  next_token: z.string().nullish(),
});

export const vastDestroyResponseSchema = z.looseObject({
  success: z.boolean().nullish(),
  error: z.string().nullish(),
  msg: z.string().nullish(),
});

/** `request_logs` answer (vastai.openapi.yaml showLogs 200): where the log text will appear. */
export const vastLogsResponseSchema = z.looseObject({
  success: z.boolean().nullish(),
  result_url: z.string().url(),
  msg: z.string().nullish(),
});
