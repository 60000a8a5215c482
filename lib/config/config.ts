import { InvalidInputError } from '../errors.ts';
import type { VirtualNodeSpec } from '../kube/cluster.ts';
import { virtualNodeSpec } from '../kube/virtual-node.ts';
import type { ProviderName } from '../offers/offer.ts';
import { DEFAULT_RECONCILE_CONFIG, type ReconcileConfig } from '../reconcile/config.ts';
import type { ForwardingConfig } from '../reconcile/forwarders.ts';
import type { NamespaceBudget, SpendLimits } from '../reconcile/spend-limits.ts';
import { type ConfigKey, SETTINGS, type Setting } from './settings.ts';

/**
 * anex's configuration: one validated object, whether it came from the environment
 * (functions, containers: {@link loadConfigFromEnv}) or from `anex` flags
 * ({@link configFromFlags}). Durations are milliseconds. Secrets are not here
 * (lib/config/secrets.ts): this object may be logged whole.
 */
export interface AnexConfig {
  clusterId: string;
  /** providers reconciled, each with its virtual node */
  providers: readonly ProviderName[];
  nodeNames: Readonly<Record<ProviderName, string>>;
  banTimeoutMs: number;
  startTimeoutMs: Readonly<Record<ProviderName, number>>;
  maxAttempts: number;
  gcGraceMs: number;
  createLagMs: number;
  maxCandidatesPerPass: number;
  podLeaseMs: number;
  /** normalized IPv4 CIDR */
  vpnRange: string;
  defaultDiskGb: number;
  heartbeatIntervalMs: number;
  leaseDurationSeconds: number;
  /** without it, pods can be provisioned but their agents cannot fetch a tunnel config */
  agentEndpointUrl: string | undefined;
  tableName: string;
  /** per provider; unset = the adapter's public default */
  providerBaseUrls: Readonly<Partial<Record<ProviderName, string>>>;
  /** spend limits and the namespaces that may rent (none unless set: ADR 0019) */
  spend: SpendLimits;
  /** forwarder pods give anex pods cluster addresses (ADR 0024); unset: podIP is the VPN address */
  forwarding?: ForwardingConfig;
}

type Values = Partial<Record<ConfigKey, unknown>>;

/** From environment variables (ANEX_*, VAST_API_URL, RUNPOD_API_URL); unset or empty variables take the defaults. */
export function loadConfigFromEnv(env: Readonly<Record<string, string | undefined>>): AnexConfig {
  return build(
    (s) => env[s.env],
    (s) => s.env,
  );
}

/**
 * From commander's parsed options, keyed by attribute name (`--ban-timeout` → `banTimeout`,
 * see {@link flagAttribute}); options left out take the defaults.
 */
export function configFromFlags(flags: Readonly<Record<string, unknown>>): AnexConfig {
  return build(
    (s) => {
      // Environment-only settings (provider URLs) are not flags: `anex run` reads them from env.
      const value = s.flag === undefined ? undefined : flags[flagAttribute(s.flag)];
      return value === undefined || value === null ? undefined : String(value);
    },
    (s) => s.flag ?? s.env,
  );
}

/** commander's attribute name for a long flag. */
export function flagAttribute(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function build(read: (s: Setting) => string | undefined, name: (s: Setting) => string): AnexConfig {
  const values: Values = {};
  const issues: string[] = [];
  for (const s of SETTINGS as readonly Setting[]) {
    const given = read(s);
    const text = given === undefined || given.trim() === '' ? s.default : given.trim();
    if (text === undefined) continue;
    const parsed = s.schema.safeParse(text);
    if (parsed.success) values[s.key] = parsed.data;
    else issues.push(`${name(s)}: ${JSON.stringify(text)} is not ${s.form}${detail(parsed.error)}`);
  }
  const config = issues.length === 0 ? assemble(values) : undefined;
  if (config !== undefined) issues.push(...crossChecks(config, name, values));
  if (config === undefined || issues.length > 0) throw new InvalidInputError(issues);
  return config;
}

/** A schema's own words about what is wrong (which entry), where it gives them. */
function detail(error: { issues: readonly { message: string; params?: unknown }[] }): string {
  const issue = error.issues.find((i) => (i.params as { detail?: boolean } | undefined)?.detail === true);
  return issue === undefined ? '' : ` (${issue.message})`;
}

function spendLimits(v: Values): SpendLimits {
  const spend: SpendLimits = { rentNamespaces: (v.rentNamespaces as SpendLimits['rentNamespaces']) ?? [] };
  if (v.maxPricePerHour !== undefined) spend.maxPricePerHour = v.maxPricePerHour as number;
  if (v.maxInstances !== undefined) spend.maxInstances = v.maxInstances as number;
  if (v.maxSpendPerHour !== undefined) spend.maxSpendPerHour = v.maxSpendPerHour as number;
  if (v.namespaceBudgets !== undefined)
    spend.namespaceBudgets = v.namespaceBudgets as Record<string, NamespaceBudget>;
  return spend;
}

function assemble(v: Values): AnexConfig {
  const get = <T>(key: ConfigKey) => v[key] as T;
  const baseUrls: Partial<Record<ProviderName, string>> = {};
  if (v.baseUrlVastai !== undefined) baseUrls.vastai = get<string>('baseUrlVastai');
  if (v.baseUrlRunpod !== undefined) baseUrls.runpod = get<string>('baseUrlRunpod');
  return {
    clusterId: get('clusterId'),
    providers: get('providers'),
    nodeNames: { vastai: get('nodeNameVastai'), runpod: get('nodeNameRunpod') },
    banTimeoutMs: get('banTimeout'),
    startTimeoutMs: { vastai: get('startTimeoutVastai'), runpod: get('startTimeoutRunpod') },
    maxAttempts: get('maxAttempts'),
    gcGraceMs: get('gcGrace'),
    createLagMs: get('createLag'),
    maxCandidatesPerPass: get('maxCandidatesPerPass'),
    podLeaseMs: get('podLease'),
    vpnRange: get('vpnRange'),
    defaultDiskGb: get('defaultDiskGb'),
    heartbeatIntervalMs: get('heartbeatInterval'),
    leaseDurationSeconds: get<number>('leaseDuration') / 1000,
    agentEndpointUrl: get('agentEndpointUrl'),
    tableName: get('tableName'),
    providerBaseUrls: baseUrls,
    spend: spendLimits(v),
    ...forwarding(v),
  };
}

/** On with a namespace and an image (crossChecks says when only one is given). */
function forwarding(v: Values): Pick<AnexConfig, 'forwarding'> {
  const namespace = v.forwarderNamespace as string | undefined;
  const image = v.forwarderImage as string | undefined;
  if (namespace === undefined || image === undefined) return {};
  return {
    forwarding: {
      namespace,
      image,
      kubeletUrl:
        (v.forwarderKubeletUrl as string | undefined) ?? `https://anex-kubelet.${namespace}.svc:10250`,
      serviceAccount: v.forwarderServiceAccount as string,
      audience: v.forwarderAudience as string,
    },
  };
}

/** Rules between settings, named by both sources so the user knows what to change. */
function crossChecks(config: AnexConfig, name: (s: Setting) => string, values: Values): string[] {
  const of = (key: ConfigKey) => name(SETTINGS.find((s) => s.key === key) as Setting);
  const issues: string[] = [];
  if (config.heartbeatIntervalMs * 2 > config.leaseDurationSeconds * 1000) {
    issues.push(
      `${of('heartbeatInterval')} must be at most half of ${of('leaseDuration')} so one missed renewal never expires the lease`,
    );
  }
  const namespace = values.forwarderNamespace !== undefined;
  if (namespace !== (values.forwarderImage !== undefined)) {
    issues.push(
      `${of(namespace ? 'forwarderImage' : 'forwarderNamespace')} is missing: ${of('forwarderNamespace')} and ${of('forwarderImage')} go together (both give anex pods cluster addresses through forwarder pods, ADR 0024; neither: none)`,
    );
  }
  if (values.forwarderKubeletUrl !== undefined && !namespace) {
    issues.push(`${of('forwarderKubeletUrl')} needs ${of('forwarderNamespace')} and ${of('forwarderImage')}`);
  }
  const enabled = config.providers.map((p) => config.nodeNames[p]);
  if (new Set(enabled).size !== enabled.length) {
    issues.push(
      `${of('nodeNameVastai')} and ${of('nodeNameRunpod')} must differ: each provider has its own virtual node`,
    );
  }
  return issues;
}

/** The reconciler's view (lib/reconcile/config.ts). */
export function reconcileConfig(config: AnexConfig): ReconcileConfig {
  return {
    clusterId: config.clusterId,
    nodes: Object.fromEntries(config.providers.map((p) => [p, config.nodeNames[p]])),
    startTimeoutMs: { ...config.startTimeoutMs },
    maxAttempts: config.maxAttempts,
    banTimeoutMs: config.banTimeoutMs,
    gcGraceMs: config.gcGraceMs,
    createLagMs: config.createLagMs,
    maxCandidatesPerPass: config.maxCandidatesPerPass,
    // DESIGN §3: only Vast machines are banned by machine id; RunPod has no per-machine offers.
    machineBans: ['vastai'],
    podLeaseMs: config.podLeaseMs,
    stopMarginMs: DEFAULT_RECONCILE_CONFIG.stopMarginMs,
    spend: config.spend,
    ...(config.forwarding === undefined ? {} : { forwarding: { ...config.forwarding } }),
  };
}

/** The virtual nodes to register and keep alive, one per enabled provider. */
export function virtualNodes(config: AnexConfig): VirtualNodeSpec[] {
  return config.providers.map((provider) => virtualNodeSpec(provider, config.nodeNames[provider]));
}
