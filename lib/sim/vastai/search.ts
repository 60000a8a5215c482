import type { SimResponse } from '../common/http-server.ts';
import { round, type VastAsk, type VastMachine } from './marketplace.ts';

const OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'notin'] as const;
type Operator = (typeof OPERATORS)[number];
/** Body keys that are not column filters. */
const NON_FILTER_KEYS = new Set([
  'order',
  'type',
  'limit',
  'allocated_storage',
  'disable_bundling',
  'select_cols',
  // `rented`: "When set to true, include offers where the calling user already has rented
  // GPUs" (search_offers.yaml), and vast-cli 52b515c: "backend doesnt filter by rented at
  // all". The server ignores it; asks rented by anyone are hidden by `rentable` (vast audit #12).
  'rented',
]);
/** Docs default when `allocated_storage` is absent (GB). */
const DEFAULT_ALLOCATED_STORAGE = 8;
/** Hours per month used to turn $/GB/month into $/h. */
const HOURS_PER_MONTH = 730;

/**
 * `POST /api/v0/bundles/` as the server does it: virtual columns rewritten (`verified`,
 * `datacenter`, `geolocation` by country code, `allocated_storage` → `disk_space gte`), then
 * every `{op: value}` applied, ordered, limited. `dph_total` includes the storage asked for.
 */
export function searchAsks(
  asks: Iterable<VastAsk>,
  machines: ReadonlyMap<number, VastMachine>,
  body: Record<string, unknown>,
): SimResponse {
  const storage =
    typeof body.allocated_storage === 'number' ? body.allocated_storage : DEFAULT_ALLOCATED_STORAGE;
  const filters = Object.entries(body).filter(([key]) => !NON_FILTER_KEYS.has(key));
  // Rows are views (static columns + a few computed ones) and are materialized only for the
  // page returned, so a 100k-offer market stays fast to search.
  const views: RowView[] = [];
  // dstackai/gpuhunt#142 (recorded live): `cuda_max_good` without `compute_cap` returns no
  // H100/H200 rows; with both, the full list (vast audit #4).
  const hidesHopper = body.cuda_max_good !== undefined && body.compute_cap === undefined;
  for (const ask of asks) {
    const view = viewOf(ask, machines, storage);
    if ((ask.row.disk_space as number) < storage) continue;
    if (hidesHopper && /\bH(100|200)\b/.test(String(ask.row.gpu_name))) continue;
    if (filters.every(([key, condition]) => matches(view, key, condition))) views.push(view);
  }
  sortRows(views, body.order);
  const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.floor(body.limit) : 64;
  return { status: 200, body: { offers: views.slice(0, limit).map(materialize) } };
}

interface RowView {
  ask: VastAsk;
  /** Not rentable now: taken by anyone, or its GPUs are in use. */
  unavailable: boolean;
  /** The caller (the sim's one account) holds GPUs on this machine. */
  rentedByCaller: boolean;
  total: number;
  diskHour: number;
  /** Sort keys, filled once before sorting. */
  keys?: number[];
}

function viewOf(ask: VastAsk, machines: ReadonlyMap<number, VastMachine>, storage: number): RowView {
  const machine = machines.get(ask.machineId);
  const free = machine ? machine.gpuTotal - machine.gpusInUse : 0;
  const diskHour = round((ask.storageCost * storage) / HOURS_PER_MONTH, 4);
  return {
    ask,
    unavailable: ask.taken || free < ask.numGpus,
    rentedByCaller: (machine?.gpusInUse ?? 0) > 0,
    diskHour,
    total: round(ask.dphBase + diskHour, 4),
  };
}

/** A column of the row as the server computes it for this search. */
function get(view: RowView, field: string): unknown {
  switch (field) {
    case 'rentable':
      return !view.unavailable;
    case 'rented':
      return view.rentedByCaller;
    case 'dph_total':
      return view.total;
    case 'dlperf_per_dphtotal':
      return round((view.ask.row.dlperf as number) / view.total, 2);
    default:
      return view.ask.row[field];
  }
}

function materialize(view: RowView): Record<string, unknown> {
  return {
    ...view.ask.row,
    rentable: !view.unavailable,
    rented: view.rentedByCaller,
    dph_total: view.total,
    dlperf_per_dphtotal: get(view, 'dlperf_per_dphtotal'),
    search: { totalHour: view.total, gpuCostPerHour: view.ask.dphBase, diskHour: view.diskHour },
  };
}

function matches(row: RowView, key: string, condition: unknown): boolean {
  const [column, value] = virtualColumn(row, key);
  const ops =
    condition !== null && typeof condition === 'object' && !Array.isArray(condition)
      ? Object.entries(condition as Record<string, unknown>)
      : [['eq', condition] as const];
  return ops.every(([op, expected]) => compare(value, op as Operator, expected, column));
}

/** The server's rewrites of virtual columns (vast-cli `vastai/data/query.py`). */
function virtualColumn(row: RowView, key: string): [string, unknown] {
  if (key === 'verified') return [key, get(row, 'verification') === 'verified'];
  if (key === 'datacenter') return [key, get(row, 'hosting_type') === 1];
  if (key === 'geolocation') {
    const geo = get(row, 'geolocation');
    return [key, typeof geo === 'string' ? geo.slice(-2) : undefined];
  }
  if (key === 'reliability2') return [key, get(row, 'reliability')];
  if (key === 'cuda_vers') return [key, get(row, 'cuda_max_good')];
  return [key, get(row, key)];
}

function compare(actual: unknown, op: Operator, expected: unknown, _column: string): boolean {
  if (actual === undefined || actual === null) return op === 'neq' || op === 'notin';
  switch (op) {
    case 'eq':
      return actual === expected;
    case 'neq':
      return actual !== expected;
    case 'gt':
      return (actual as number) > (expected as number);
    case 'gte':
      return (actual as number) >= (expected as number);
    case 'lt':
      return (actual as number) < (expected as number);
    case 'lte':
      return (actual as number) <= (expected as number);
    case 'in':
      return Array.isArray(expected) && expected.includes(actual);
    case 'notin':
      return !Array.isArray(expected) || !expected.includes(actual);
    default:
      return true; // unknown operators are ignored, like deprecated columns
  }
}

function sortRows(rows: RowView[], order: unknown): void {
  const keys = Array.isArray(order) ? order.filter((o): o is [string, string] => Array.isArray(o)) : [];
  if (keys.length === 0) keys.push(['score', 'desc']);
  const signs = keys.map(([, dir]) => (dir === 'desc' ? -1 : 1));
  for (const row of rows) row.keys = keys.map(([field]) => Number(get(row, field)));
  rows.sort((a, b) => {
    for (let i = 0; i < signs.length; i++) {
      const x = a.keys?.[i] ?? 0;
      const y = b.keys?.[i] ?? 0;
      if (x !== y) return (x < y ? -1 : 1) * (signs[i] ?? 1);
    }
    return 0;
  });
}
