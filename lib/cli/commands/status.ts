import { type Command, Option } from 'commander';
import { configFromFlags, flagAttribute } from '../../config/config.ts';
import { SETTINGS, type Setting } from '../../config/settings.ts';
import { KubeCluster } from '../../kube/kube-cluster.ts';
import { loadKubeConfig } from '../../local/local-mode.ts';
import { openLocalStore } from '../../local/local-store.ts';
import type { ProviderName } from '../../offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG } from '../../reconcile/config.ts';
import {
  type LimitUse,
  limitUses,
  money,
  NEAR_LIMIT,
  recordedSpend,
  type SpendLimits,
} from '../../reconcile/spend-limits.ts';
import type { PodRecord } from '../../state/store.ts';
import { formatPrice } from '../offers-output.ts';
import { addStoreOptions, type StoreCliOptions, storeOptions } from '../support/store-options.ts';

interface StatusOptions extends StoreCliOptions {
  kubeconfig?: string;
  output: 'table' | 'json';
  [flag: string]: unknown;
}

/** The spend-limit settings, which `anex status` takes like `anex run` (flag, else ANEX_* variable). */
const LIMIT_SETTINGS = (SETTINGS as readonly Setting[]).filter((s) =>
  ['maxInstances', 'maxSpendPerHour', 'namespaceBudgets'].includes(s.key),
);

function limitsFrom(options: StatusOptions, env: NodeJS.ProcessEnv): SpendLimits {
  const flags: Record<string, unknown> = {};
  for (const s of LIMIT_SETTINGS) {
    const attribute = flagAttribute(s.flag ?? s.env);
    flags[attribute] = options[attribute] ?? env[s.env];
  }
  return configFromFlags(flags).spend;
}

export interface StatusRow {
  pod: string;
  phase: string;
  provider: ProviderName;
  stage: string;
  instance: string;
  gpu: string;
  pricePerHour: number | undefined;
  ageMinutes: number | undefined;
  /** price × hours since the instance was rented (the providers bill about that way) */
  accruedUsd: number | undefined;
}

export function statusRow(
  pod: { namespace: string; name: string; phase?: string },
  provider: ProviderName,
  record: PodRecord | undefined,
  now: number,
): StatusRow {
  const instance = record?.instance;
  const hours = instance === undefined ? undefined : (now - instance.createdAt) / 3_600_000;
  return {
    pod: `${pod.namespace}/${pod.name}`,
    phase: pod.phase ?? 'Pending',
    provider,
    stage: record?.stage ?? '-',
    instance: instance?.id ?? '-',
    gpu: instance?.gpuName === undefined ? '-' : `${instance.gpuCount ?? 1}x ${instance.gpuName}`,
    pricePerHour: instance?.pricePerHour,
    ageMinutes: hours === undefined ? undefined : hours * 60,
    accruedUsd:
      hours === undefined || instance?.pricePerHour === undefined ? undefined : hours * instance.pricePerHour,
  };
}

async function status(options: StatusOptions): Promise<void> {
  const cluster = new KubeCluster({ kubeConfig: loadKubeConfig(options.kubeconfig) });
  const state = await openLocalStore(storeOptions(options));
  try {
    const now = Date.now();
    const records = new Map((await state.store.listPods()).map((r) => [r.podUid, r]));
    const rows: StatusRow[] = [];
    for (const [provider, node] of Object.entries(DEFAULT_RECONCILE_CONFIG.nodes) as [
      ProviderName,
      string,
    ][]) {
      for (const pod of await cluster.listPods(node))
        rows.push(statusRow(pod, provider, records.get(pod.uid), now));
    }
    const uses = limitUses(recordedSpend([...records.values()]), limitsFrom(options, process.env));
    // JSON keeps its shape (an array of pods) unless limits are set: then { pods, limits }.
    const json = uses.length === 0 ? rows : { pods: rows, limits: uses };
    process.stdout.write(
      options.output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : table(rows) + limitsTable(uses),
    );
  } finally {
    await state.close();
  }
}

function table(rows: readonly StatusRow[]): string {
  if (rows.length === 0) return 'no pods on the anex virtual nodes\n';
  const header = ['POD', 'PHASE', 'PROVIDER', 'STAGE', 'INSTANCE', 'GPU', '$/H', 'AGE', 'COST'];
  const cells = rows.map((r) => [
    r.pod,
    r.phase,
    r.provider,
    r.stage,
    r.instance,
    r.gpu,
    r.pricePerHour === undefined ? '-' : formatPrice(r.pricePerHour),
    r.ageMinutes === undefined ? '-' : `${Math.floor(r.ageMinutes)}m`,
    r.accruedUsd === undefined ? '-' : `$${r.accruedUsd.toFixed(2)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...cells.map(line)].join('\n')}\n`;
}

/** Spend against each limit set, with a warning mark at {@link NEAR_LIMIT} of it. */
export function limitsTable(uses: readonly LimitUse[]): string {
  if (uses.length === 0) return '';
  const fmt = (u: LimitUse, n: number) => (u.limit === 'instances' ? String(n) : money(n));
  const lines = uses.map((u) => {
    const share = u.cap === 0 ? 1 : u.used / u.cap;
    const mark = share >= NEAR_LIMIT ? '  (near the limit)' : '';
    return `${u.limit}: ${fmt(u, u.used)} of ${fmt(u, u.cap)} (${Math.round(share * 100)}%, ${u.setting})${mark}`;
  });
  return `\nspend limits:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** `anex status`: pods on the anex nodes with what they run on and what they cost so far. */
export function registerStatus(program: Command): void {
  const command = program
    .command('status')
    .description('Pods on the anex virtual nodes: provider, instance, GPU, $/h, age, accrued cost')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)')
    .addOption(new Option('--output <format>', 'output format').choices(['table', 'json']).default('table'));
  for (const s of LIMIT_SETTINGS)
    command.addOption(new Option(`${s.flag} <value>`, `${s.description} (${s.form}; env ${s.env})`));
  addStoreOptions(command)
    .addHelpText(
      'after',
      '\n$/h is the rate the provider bills for the instance, read after renting (the offer price until then);\n' +
        'cost is that rate times the time since it was rented (an estimate; the provider bills).\n' +
        'With spend limits set (the same flags or ANEX_* variables as anex run), spend is shown against each.\n' +
        'Exit codes: 0 ok, 1 failure (cluster or store unreachable), 2 invalid input.',
    )
    .action(status);
}
