import type { BootPlans } from '../common/boot-plans.ts';
import { type ContainerStart, startContainer } from '../common/container.ts';
import { INVALID_JSON, type SimRequest, type SimResponse } from '../common/http-server.ts';
import { findSimImage, pullAllowed, type SimImage } from '../common/images.ts';
import type { SimRoute } from '../common/sim-core.ts';
import { renderInstance, type VastBootPlan, type VastInstanceRecord, type VastTimings } from './instances.ts';
import { LOG_UPLOAD_PATH, requestLogs, uploadedLog } from './logs.ts';
import { round, type VastAsk, type VastMachine } from './marketplace.ts';
import { searchAsks } from './search.ts';

/** The state the Vast routes read and change (owned by {@link VastAiSim}). */
export interface VastState {
  asks: Map<number, VastAsk>;
  machines: Map<number, VastMachine>;
  instances: Map<number, VastInstanceRecord>;
  /** Boot plans by image or by machine id. */
  plans: BootPlans<number, VastBootPlan>;
  credit: number;
  nextInstanceId: number;
  timings: VastTimings;
  now: () => number;
  /** true when a key was sent but is not accepted (search answers 404 then). */
  badKey: (request: SimRequest) => boolean;
  /**
   * Rows the account's list also holds that are not instances as anex reads them (a field of
   * another type, a missing id): an account holds whatever else its owner rents (vast audit).
   */
  oddRows: unknown[];
  /**
   * USD/h that instances created on a machine bill on top of their ask's price: hosts reprice
   * between the search and the rent (providers.md §5: the billed `dph_total` is read after
   * renting, not assumed).
   */
  markups: Map<number, number>;
  /** uploads of `request_logs` by key, and how long one takes to appear (lib/sim/vastai/logs.ts) */
  logUploads: Map<string, { text: string; readyAt: number }>;
  logUploadMs: number;
  /**
   * What instance `id`'s container printed (lib/sim/machines runs it). Set once by the machine
   * runner and absent from the fresh state, so a reset keeps it.
   */
  containerLog?: (id: string) => string | undefined;
}

const fail = (
  status: number,
  error: string,
  msg: string,
  extra: Record<string, unknown> = {},
): SimResponse => ({
  status,
  body: { success: false, error, msg, ...extra },
});

/** Columns computed per row: filtering the v1 list on them is a 400 on the real API. */
const COMPUTED_COLUMNS = new Set(['dph_total', 'num_gpus', 'dlperf_per_dphtotal', 'gpu_totalram']);

export function vastRoutes(state: VastState): SimRoute[] {
  return [
    {
      name: 'search',
      method: 'POST',
      pattern: /^\/api\/v0\/bundles\/?$/,
      auth: false,
      run: (r) => search(state, r),
    },
    {
      name: 'create',
      method: 'PUT',
      pattern: /^\/api\/v0\/asks\/([^/]+)\/?$/,
      auth: true,
      run: (r, p) => create(state, r, p[0]),
    },
    {
      name: 'show',
      method: 'GET',
      pattern: /^\/api\/v0\/instances\/([^/]+)\/?$/,
      auth: true,
      run: (_r, p) => show(state, p[0]),
    },
    {
      name: 'logs',
      method: 'PUT',
      pattern: /^\/api\/v0\/instances\/request_logs\/([^/]+)\/?$/,
      auth: true,
      run: (r, p) => requestLogs(state, r, p[0]),
    },
    {
      // S3, where `result_url` points: public, no Vast key (logs.ts).
      name: 'log-upload',
      method: 'GET',
      pattern: LOG_UPLOAD_PATH,
      auth: false,
      run: (r, p) => uploadedLog(state, r, p[0]),
    },
    {
      name: 'list',
      method: 'GET',
      pattern: /^\/api\/v1\/instances\/?$/,
      auth: true,
      run: (r) => list(state, r),
    },
    {
      name: 'destroy',
      method: 'DELETE',
      pattern: /^\/api\/v0\/instances\/([^/]+)\/?$/,
      auth: true,
      run: (_r, p) => destroy(state, p[0]),
    },
  ];
}

function search(state: VastState, request: SimRequest): SimResponse {
  // Documented oddity: a bad key on search is a 404 with "Invalid user key".
  if (state.badKey(request)) return fail(404, 'auth_error', 'Invalid user key');
  const body = request.body;
  if (body === INVALID_JSON || (body !== undefined && (typeof body !== 'object' || Array.isArray(body)))) {
    return { status: 400, body: { error: 'invalid_request', msg: 'Invalid json body' } };
  }
  return searchAsks(state.asks.values(), state.machines, (body ?? {}) as Record<string, unknown>);
}

function create(state: VastState, request: SimRequest, rawId: string | undefined): SimResponse {
  const askId = Number(rawId);
  const body = request.body as Record<string, unknown> | undefined;
  const invalid = validateCreate(body);
  if (invalid) return fail(400, 'invalid_args', `error 400/3467: Invalid args: ${invalid}`);
  const ask = Number.isInteger(askId) ? state.asks.get(askId) : undefined;
  if (!ask) {
    return fail(
      404,
      'invalid_args',
      `error 404/3603: no_such_ask Instance type by id ${rawId} is not available.`,
      {
        ask_id: Number.isFinite(askId) ? askId : null,
      },
    );
  }
  const machine = state.machines.get(ask.machineId);
  if (ask.taken || !machine || machine.gpuTotal - machine.gpusInUse < ask.numGpus) {
    return fail(
      410,
      'no_such_ask',
      `error 410/3907: no_such_ask Instance type ${askId} is no longer available.`,
      {
        ask_id: askId,
      },
    );
  }
  if (state.credit <= 0)
    return fail(400, 'insufficient_credit', 'Your account lacks credit; add credit to rent.');
  const record = newRecord(state, ask, body as Record<string, unknown>);
  ask.taken = true;
  machine.gpusInUse += ask.numGpus;
  state.instances.set(record.id, record);
  return {
    status: 200,
    body: { success: true, new_contract: record.id, instance_api_key: `inst-${record.id}-key` },
  };
}

/** `runtype` values of create_instance (vastai.openapi.yaml, PUT /api/v0/asks/{id}: `runtype.enum`). */
const RUNTYPES = new Set([
  'ssh',
  'jupyter',
  'args',
  'ssh_proxy',
  'ssh_direct',
  'jupyter_proxy',
  'jupyter_direct',
]);
/**
 * vast-ai/docs create_instance.yaml `x-input-validation`: `args: max_length: 4096 — Combined
 * length of args, args_str and onstart` (vast audit #2; the CLI docs say 16 KB for onstart
 * alone: the stricter, documented API limit is modelled).
 */
export const VAST_LAUNCH_MAX_CHARS = 4096;
/** The same `x-input-validation`: `label max_length: 256` on create (1024 only on the label endpoint; vast audit #14). */
export const VAST_LABEL_MAX_CHARS = 256;

/** The create body's problems in the words of Vast's `invalid_args` answers; undefined when valid. */
function validateCreate(body: Record<string, unknown> | undefined): string | undefined {
  if (!body || typeof body !== 'object') return 'request body must be a JSON object';
  if (typeof body.image !== 'string' || body.image.length === 0) return 'image is required';
  if (body.image.length > 1024) return 'image is too long';
  if (
    body.label !== undefined &&
    (typeof body.label !== 'string' || body.label.length > VAST_LABEL_MAX_CHARS)
  )
    return `label must be a string of at most ${VAST_LABEL_MAX_CHARS} characters`;
  if (body.runtype !== undefined && !(typeof body.runtype === 'string' && RUNTYPES.has(body.runtype)))
    return `runtype must be one of ${[...RUNTYPES].join(', ')}`;
  if (body.target_state !== undefined && body.target_state !== 'running' && body.target_state !== 'stopped')
    return 'target_state must be one of running, stopped';
  if (
    body.price !== undefined &&
    !(typeof body.price === 'number' && body.price >= 0.001 && body.price <= 128)
  )
    return 'price must be a number from 0.001 to 128';
  const launch = launchIssue(body);
  if (launch) return launch;
  const env = body.env;
  // The docs: "env field must be a JSON object (dict), not a Docker flag string" (vast audit, confirmed rows).
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) {
    return 'env must be an object of KEY: value';
  }
  const entries = Object.entries((env ?? {}) as Record<string, unknown>);
  if (entries.some(([, value]) => typeof value !== 'string' || value.length > 256)) {
    return 'env values must be strings of at most 256 characters';
  }
  if (entries.reduce((sum, [k, v]) => sum + k.length + String(v).length, 0) > 32_768)
    return 'env is too large';
  if (body.disk !== undefined && (typeof body.disk !== 'number' || body.disk < 8))
    return 'disk must be a number >= 8';
  return undefined;
}

/** onstart, args and args_str: their types (the OpenAPI schema) and their combined length. */
function launchIssue(body: Record<string, unknown>): string | undefined {
  if (body.onstart !== undefined && body.onstart !== null && typeof body.onstart !== 'string')
    return 'onstart must be a string';
  if (body.args !== undefined && !(Array.isArray(body.args) && body.args.every((a) => typeof a === 'string')))
    return 'args must be an array of strings';
  if (body.args_str !== undefined && typeof body.args_str !== 'string') return 'args_str must be a string';
  // OpenAPI create-instance `image_login: string` ("Docker registry credentials if needed")
  if (body.image_login !== undefined && typeof body.image_login !== 'string')
    return 'image_login must be a string';
  const length =
    String(body.onstart ?? '').length +
    ((body.args as string[] | undefined) ?? []).reduce((sum, arg) => sum + arg.length, 0) +
    String(body.args_str ?? '').length;
  if (length > VAST_LAUNCH_MAX_CHARS) {
    return `onstart, args and args_str together may hold at most ${VAST_LAUNCH_MAX_CHARS} characters (got ${length})`;
  }
  return undefined;
}

/** `-u user -p token registry` (creating-instances-with-api.mdx; vast-cli --login). */
export function parseImageLogin(
  value: unknown,
): { username: string; password: string; registry: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^-u (\S+) -p (\S+) (\S+)$/.exec(value.trim());
  if (match === null) return undefined;
  return { username: match[1] as string, password: match[2] as string, registry: match[3] as string };
}

function newRecord(state: VastState, ask: VastAsk, body: Record<string, unknown>): VastInstanceRecord {
  const image = body.image as string;
  const disk = typeof body.disk === 'number' ? body.disk : 8;
  const runtype = typeof body.runtype === 'string' ? body.runtype : defaultRuntype(body);
  const simImage = findSimImage(image);
  // An image nobody published fails to pull wherever it lands (stricter than accepting any name);
  // so does a private one without its registry login (`image_login`, docker login's flags).
  const planned = state.plans.planFor(image, ask.machineId);
  const pullable = simImage !== undefined && pullAllowed(simImage, parseImageLogin(body.image_login));
  const plan = !pullable && planned === 'normal' ? 'image-pull-error' : planned;
  return {
    id: state.nextInstanceId++,
    ask,
    label: typeof body.label === 'string' ? body.label : null,
    image,
    env: (body.env ?? {}) as Record<string, string>,
    runtype,
    container: simImage === undefined ? undefined : vastContainerStart(simImage, runtype, body),
    args: Array.isArray(body.args) ? body.args.map(String) : [],
    onstart: typeof body.onstart === 'string' ? body.onstart : null,
    disk,
    createdAt: state.now(),
    destroyed: false,
    plan,
    dphTotal: round(
      ask.dphBase + (ask.storageCost * disk) / 730 + (state.markups.get(ask.machineId) ?? 0),
      4,
    ),
  };
}

/** "If omitted, defaults to 'ssh' unless `args/args_str` is provided" (create_instance `runtype`). */
function defaultRuntype(body: Record<string, unknown>): string {
  return body.args !== undefined || body.args_str !== undefined ? 'args' : 'ssh';
}

/**
 * What Vast's runtime starts. `args` runtype: `onstart` is the ENTRYPOINT taken verbatim as
 * one executable path (never split by a shell: dstack sends `"onstart": "/bin/sh", "args":
 * ["-c", …]`, vast-cli's example is `--onstart-cmd 'bash' --args -c '…'`, and a one-string
 * `"bash -c …"` failed live with `stat bash -c …: no such file or directory`; vast audit #1);
 * `args` (or `args_str`, split on white space: its quoting rules are undocumented, the
 * stricter reading) is CMD; an empty onstart keeps the image ENTRYPOINT. ssh/jupyter
 * runtypes replace the entrypoint with Vast's own init, which runs onstart as a shell script.
 */
function vastContainerStart(image: SimImage, runtype: string, body: Record<string, unknown>): ContainerStart {
  const env = Object.fromEntries(
    Object.entries((body.env ?? {}) as Record<string, string>).filter(([key]) => !key.startsWith('-')),
  );
  const onstart = typeof body.onstart === 'string' && body.onstart !== '' ? body.onstart : undefined;
  if (runtype !== 'args') {
    return startContainer(image, { entrypoint: ['/bin/sh', '-c', onstart ?? 'sleep infinity'], env });
  }
  const args = Array.isArray(body.args)
    ? body.args.map(String)
    : typeof body.args_str === 'string'
      ? body.args_str.split(/\s+/).filter((word) => word !== '')
      : undefined;
  return startContainer(image, {
    ...(onstart === undefined ? {} : { entrypoint: [onstart] }),
    ...(args === undefined ? {} : { cmd: args }),
    env,
  });
}

function show(state: VastState, rawId: string | undefined): SimResponse {
  const record = state.instances.get(Number(rawId));
  // Unknown or destroyed id: 200 {"instances": null} (vast-cli `show__instance`).
  if (!record || record.destroyed) return { status: 200, body: { instances: null } };
  return { status: 200, body: { instances: renderInstance(record, state.now(), state.timings) } };
}

function destroy(state: VastState, rawId: string | undefined): SimResponse {
  const id = Number(rawId);
  if (!Number.isInteger(id) || id <= 0)
    return fail(400, 'invalid_args', `error 400/3467: Invalid args: bad id ${rawId}`);
  const record = state.instances.get(id);
  if (!record || record.destroyed) return fail(404, 'not_found', 'Instance not found');
  record.destroyed = true;
  // The rental ended: its GPUs and its ask go back on the market, as on Vast.
  record.ask.taken = false;
  const machine = state.machines.get(record.ask.machineId);
  if (machine) machine.gpusInUse -= record.ask.numGpus;
  return { status: 200, body: { success: true } };
}

function list(state: VastState, request: SimRequest): SimResponse {
  const parsed = parseListQuery(request.query);
  if ('error' in parsed) return { status: 400, body: { error: 'invalid_request', msg: parsed.error } };
  const now = state.now();
  const all = [...state.instances.values()]
    .filter((r) => !r.destroyed)
    .map((r) => renderInstance(r, now, state.timings))
    .filter((row) => Object.entries(parsed.filters).every(([col, cond]) => selectMatches(row[col], cond)))
    .sort((a, b) => ((a.id as number) - (b.id as number)) * parsed.dir);
  const after = parsed.after;
  const remaining =
    after === undefined ? all : all.filter((row) => ((row.id as number) - after) * parsed.dir > 0);
  const page = remaining.slice(0, parsed.limit);
  const last = page[page.length - 1];
  const more = remaining.length > page.length && last !== undefined;
  const labelCounts: Record<string, number> = {};
  for (const row of all)
    if (typeof row.label === 'string') labelCounts[row.label] = (labelCounts[row.label] ?? 0) + 1;
  return {
    status: 200,
    body: {
      success: true,
      instances_found: page.length,
      total_instances: all.length,
      label_counts: labelCounts,
      next_token: more ? Buffer.from(JSON.stringify({ id: last.id })).toString('base64url') : null,
      // Odd rows come with the first page, as an account's other rentals would.
      instances: after === undefined ? [...state.oddRows, ...page] : page,
    },
  };
}

type ListQuery = { limit: number; dir: 1 | -1; after: number | undefined; filters: Record<string, unknown> };

function parseListQuery(query: URLSearchParams): ListQuery | { error: string } {
  try {
    const limit = Math.min(25, Math.max(1, Number(query.get('limit') ?? 25) || 25));
    const order = JSON.parse(query.get('order_by') ?? '[{"col":"id","dir":"asc"}]') as { dir?: string }[];
    const filters = JSON.parse(query.get('select_filters') ?? '{}') as Record<string, unknown>;
    const bad = Object.keys(filters).find((col) => COMPUTED_COLUMNS.has(col));
    if (bad) return { error: `${bad} is not a valid search key` };
    const token = query.get('after_token');
    const after = token
      ? (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { id: number }).id
      : undefined;
    return { limit, dir: order[0]?.dir === 'desc' ? -1 : 1, after, filters };
  } catch {
    return { error: 'invalid query parameters (order_by, select_filters and after_token must be JSON)' };
  }
}

function selectMatches(actual: unknown, condition: unknown): boolean {
  if (condition === null || typeof condition !== 'object') return actual === condition;
  return Object.entries(condition as Record<string, unknown>).every(([op, expected]) => {
    if (op === 'eq') return actual === expected;
    if (op === 'neq') return actual !== expected;
    if (op === 'in') return Array.isArray(expected) && expected.includes(actual);
    if (op === 'notin') return Array.isArray(expected) && !expected.includes(actual);
    return true;
  });
}
