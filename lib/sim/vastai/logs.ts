import { randomBytes } from 'node:crypto';
import { INVALID_JSON, type SimRequest, type SimResponse } from '../common/http-server.ts';
import { statusAt, type VastInstanceRecord, type VastTimings } from './instances.ts';

/**
 * Vast's log API as the simulator keeps it (`PUT /api/v0/instances/request_logs/{id}/`).
 * Sources: vastai.openapi.yaml `showLogs` (body `tail: string`, `filter: string`,
 * `daemon_logs: "true"`; 200 `{success, result_url, msg}`, 404 `{error: "invalid_id", msg:
 * "Invalid instance id."}`), vast-cli `vastai/api/instances.py` `logs` + `_poll_result_url`
 * (the URL is fetched with a plain GET, no API key, until it answers 200: 30 tries 0.3 s apart)
 * and vast.py `logs` (`--tail` "default '1000'"). The stricter readings, modelled here: the
 * upload is not there at once (S3 answers 404 NoSuchKey until it is); the text is a snapshot
 * taken when the request came; a `tail` that is not a string of digits is refused rather than
 * guessed; S3 refuses a request that carries an `Authorization` header it does not know
 * ("Unsupported Authorization Type"), so a client that leaks the Vast key there fails.
 */
export interface VastLogState {
  instances: Map<number, VastInstanceRecord>;
  timings: VastTimings;
  now: () => number;
  /** uploads by key: the text and when S3 starts serving it */
  logUploads: Map<string, { text: string; readyAt: number }>;
  /** how long an upload takes to appear, ms */
  logUploadMs: number;
  /** what instance `id`'s container printed (the machine runner's capture); unset: nothing ran */
  containerLog?: (id: string) => string | undefined;
}

/** The path S3 serves uploads under (the real `result_url` is `https://s3.amazonaws.com/vast.ai/instance_logs/<hash>.log`). */
export const LOG_UPLOAD_PATH = /^\/vast\.ai\/instance_logs\/([0-9a-f]{32})\.log$/;

/** The vast-cli default `tail`. */
const DEFAULT_TAIL = 1000;

const invalid = (msg: string): SimResponse => ({
  status: 400,
  body: { success: false, error: 'invalid_args', msg: `error 400/3467: Invalid args: ${msg}` },
});

export function requestLogs(
  state: VastLogState,
  request: SimRequest,
  rawId: string | undefined,
): SimResponse {
  const body = request.body;
  if (body === INVALID_JSON || (body !== undefined && (typeof body !== 'object' || Array.isArray(body))))
    return invalid('request body must be a JSON object');
  const input = (body ?? {}) as Record<string, unknown>;
  if (input.tail !== undefined && !(typeof input.tail === 'string' && /^\d+$/.test(input.tail)))
    return invalid('tail must be a string of digits (e.g. "1000")');
  if (input.filter !== undefined && typeof input.filter !== 'string')
    return invalid('filter must be a string');
  if (input.daemon_logs !== undefined && input.daemon_logs !== 'true')
    return invalid('daemon_logs must be "true" when given');
  const record = state.instances.get(Number(rawId));
  if (record === undefined || record.destroyed)
    return { status: 404, body: { error: 'invalid_id', msg: 'Invalid instance id.' } };
  const lines = (input.daemon_logs === 'true' ? daemonLines(record, state) : containerLines(record, state))
    .filter((line) => input.filter === undefined || line.includes(input.filter as string))
    .slice(-(input.tail === undefined ? DEFAULT_TAIL : Number(input.tail)) || Number.POSITIVE_INFINITY);
  const key = randomBytes(16).toString('hex');
  state.logUploads.set(key, {
    text: lines.map((l) => `${l}\n`).join(''),
    readyAt: state.now() + state.logUploadMs,
  });
  const origin = `http://${request.headers.host ?? '127.0.0.1'}`;
  return {
    status: 200,
    body: {
      success: true,
      result_url: `${origin}/vast.ai/instance_logs/${key}.log`,
      msg: 'Logs will be uploaded to the result_url shortly.',
    },
  };
}

/** `GET <result_url>`: S3's answers for a public object that is or is not there yet. */
export function uploadedLog(state: VastLogState, request: SimRequest, key: string | undefined): SimResponse {
  if (request.headers.authorization !== undefined)
    return s3Error(400, 'InvalidArgument', 'Unsupported Authorization Type');
  const upload = key === undefined ? undefined : state.logUploads.get(key);
  if (upload === undefined || state.now() < upload.readyAt)
    return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
  return { status: 200, body: upload.text, contentType: 'text/plain' };
}

function s3Error(status: number, code: string, message: string): SimResponse {
  return {
    status,
    contentType: 'application/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}

/** The container's output; nothing before the runtime started it. */
function containerLines(record: VastInstanceRecord, state: VastLogState): string[] {
  return (state.containerLog?.(String(record.id)) ?? '').split('\n').filter((line) => line !== '');
}

/** What the host's daemon says about the container: the status messages it went through. */
function daemonLines(record: VastInstanceRecord, state: VastLogState): string[] {
  const status = statusAt(record, state.now(), state.timings);
  return [`Pulling image ${record.image}`, ...(status.message === null ? [] : [status.message])];
}
