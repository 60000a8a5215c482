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
  const offers: Record<string, unknown>[] = [];
  for (const ask of asks) {
    const row = rowOf(ask, machines, storage);
    if ((row.disk_space as number) < storage) continue;
    if (filters.every(([key, condition]) => matches(row, key, condition))) offers.push(row);
  }
  sortRows(offers, body.order);
  const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.floor(body.limit) : 64;
  return { status: 200, body: { offers: offers.slice(0, limit) } };
}

function rowOf(
  ask: VastAsk,
  machines: ReadonlyMap<number, VastMachine>,
  storage: number,
): Record<string, unknown> {
  const machine = machines.get(ask.machineId);
  const free = machine ? machine.gpuTotal - machine.gpusInUse : 0;
  const rented = ask.taken || free < ask.numGpus;
  const diskHour = round((ask.storageCost * storage) / HOURS_PER_MONTH, 4);
  const total = round(ask.dphBase + diskHour, 4);
  return {
    ...ask.row,
    rentable: !rented,
    rented,
    dph_total: total,
    dlperf_per_dphtotal: round((ask.row.dlperf as number) / total, 2),
    search: { totalHour: total, gpuCostPerHour: ask.dphBase, diskHour },
  };
}

function matches(row: Record<string, unknown>, key: string, condition: unknown): boolean {
  const [column, value] = virtualColumn(row, key);
  const ops =
    condition !== null && typeof condition === 'object' && !Array.isArray(condition)
      ? Object.entries(condition as Record<string, unknown>)
      : [['eq', condition] as const];
  return ops.every(([op, expected]) => compare(value, op as Operator, expected, column));
}

/** The server's rewrites of virtual columns (vast-cli `vastai/data/query.py`). */
function virtualColumn(row: Record<string, unknown>, key: string): [string, unknown] {
  if (key === 'verified') return [key, row.verification === 'verified'];
  if (key === 'datacenter') return [key, row.hosting_type === 1];
  if (key === 'geolocation') {
    const geo = row.geolocation;
    return [key, typeof geo === 'string' ? geo.slice(-2) : undefined];
  }
  if (key === 'reliability2') return [key, row.reliability];
  if (key === 'cuda_vers') return [key, row.cuda_max_good];
  return [key, row[key]];
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

function sortRows(rows: Record<string, unknown>[], order: unknown): void {
  const keys = Array.isArray(order) ? order.filter((o): o is [string, string] => Array.isArray(o)) : [];
  if (keys.length === 0) keys.push(['score', 'desc']);
  rows.sort((a, b) => {
    for (const [field, dir] of keys) {
      const x = a[field] as number;
      const y = b[field] as number;
      if (x !== y) return (x < y ? -1 : 1) * (dir === 'desc' ? -1 : 1);
    }
    return 0;
  });
}
