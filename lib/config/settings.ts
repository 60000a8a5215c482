import { z } from 'zod';
import { PROVIDERS } from '../offers/offer.ts';
import { DEFAULT_FORWARDER_AUDIENCE, DEFAULT_FORWARDER_SERVICE_ACCOUNT } from '../reconcile/forwarders.ts';
import { TABLE } from '../state/table.ts';
import { parseVpnRange } from '../tunnel/addresses.ts';
import { DURATION_FORM, formatDuration, parseDuration } from './duration.ts';
import { PROVIDER_ENV } from './secrets.ts';
import {
  BUDGETS_FORM,
  MONEY_FORM,
  money,
  NAMESPACES_FORM,
  namespaceBudgets,
  rentNamespaces,
} from './spend.ts';

/**
 * Every setting once: its environment variable (functions, `anex run` in a container), its
 * CLI flag, the accepted form (quoted in errors), its default and a zod schema from text.
 * Both loaders (lib/config/load.ts) read this table, so the two spellings cannot drift.
 *
 * Defaults and why:
 * - start timeouts: Vast 10 min, RunPod 20 min — Vast instances usually boot in 1-5 min;
 *   dstack waits 10 min on Vast and 20 min on RunPod "while a large image is pulled".
 * - ban 6 h: a host that failed a start (daemon/runtime fault, never reached running) rarely
 *   heals within minutes; SkyPilot only skips it for the retry, a community provisioner bans
 *   7 days. 6 h keeps a broken host out of a working day's retries, lets a repaired one back
 *   the same day, and costs little: the market has many equivalent machines.
 * - 5 attempts; GC grace 10 min (longer than any create + Vast list read lag);
 * - heartbeat 10 s with a 40 s lease: virtual-kubelet's values, under the 50 s node grace.
 */
export interface Setting {
  /** the flat key in ConfigInput (and the commander option's attribute name) */
  key: ConfigKey;
  env: string;
  /** unset: environment only (provider URLs, which `anex run` reads like `anex offers` does) */
  flag?: string;
  form: string;
  /** as text, the way a user would write it; undefined = optional, unset by default */
  default: string | undefined;
  description: string;
  schema: z.ZodType<unknown, string>;
}

const duration = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `between ${formatDuration(min)} and ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });

const integer = (min: number, max: number) =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));

const url = z.string().transform((text, ctx) => {
  try {
    const parsed = new URL(text);
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && local))
      return text.replace(/\/+$/, '');
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'not an https URL' });
  return z.NEVER;
});

const nodeName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
  .max(253);

const providerList = z.string().transform((text, ctx) => {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = items.filter((s) => !(PROVIDERS as readonly string[]).includes(s));
  if (items.length === 0 || unknown.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: unknown.length > 0 ? `unknown: ${unknown.join(', ')}` : 'empty',
    });
    return z.NEVER;
  }
  return [...new Set(items)] as (typeof PROVIDERS)[number][];
});

const cidr = z.string().transform((text, ctx) => {
  try {
    return parseVpnRange(text).cidr;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not an IPv4 network' });
    return z.NEVER;
  }
});

const MIN = 60_000;
const HOUR = 3_600_000;

function setting(s: Setting): Setting {
  return s;
}

export const SETTINGS = [
  setting({
    key: 'clusterId',
    env: 'ANEX_CLUSTER_ID',
    flag: '--cluster-id',
    form: '1-32 lowercase letters, digits or "-", starting with a letter or digit (e.g. "prod-eu")',
    default: 'default',
    description: 'identifies this installation in instance tags',
    schema: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/),
  }),
  setting({
    key: 'providers',
    env: 'ANEX_PROVIDERS',
    flag: '--providers',
    form: `a comma list of ${PROVIDERS.join(', ')}`,
    default: PROVIDERS.join(','),
    description: 'providers to reconcile (one virtual node each)',
    schema: providerList,
  }),
  setting({
    key: 'nodeNameVastai',
    env: 'ANEX_NODE_NAME_VASTAI',
    flag: '--node-name-vastai',
    form: 'a Kubernetes node name (lowercase DNS subdomain)',
    default: 'anex-vastai',
    description: 'virtual node of the vastai provider',
    schema: nodeName,
  }),
  setting({
    key: 'nodeNameRunpod',
    env: 'ANEX_NODE_NAME_RUNPOD',
    flag: '--node-name-runpod',
    form: 'a Kubernetes node name (lowercase DNS subdomain)',
    default: 'anex-runpod',
    description: 'virtual node of the runpod provider',
    schema: nodeName,
  }),
  setting({
    key: 'banTimeout',
    env: 'ANEX_BAN_TIMEOUT',
    flag: '--ban-timeout',
    form: `${DURATION_FORM}, from 1m to 30d`,
    default: '6h',
    description: 'how long a machine that failed to start stays banned',
    schema: duration(MIN, 720 * HOUR),
  }),
  setting({
    key: 'startTimeoutVastai',
    env: 'ANEX_START_TIMEOUT_VASTAI',
    flag: '--start-timeout-vastai',
    form: `${DURATION_FORM}, from 1m to 2h`,
    default: '10m',
    description: 'create → running deadline on vastai (image pull included)',
    schema: duration(MIN, 2 * HOUR),
  }),
  setting({
    key: 'startTimeoutRunpod',
    env: 'ANEX_START_TIMEOUT_RUNPOD',
    flag: '--start-timeout-runpod',
    form: `${DURATION_FORM}, from 1m to 2h`,
    default: '20m',
    description: 'create → running deadline on runpod (image pull included)',
    schema: duration(MIN, 2 * HOUR),
  }),
  setting({
    key: 'maxAttempts',
    env: 'ANEX_MAX_ATTEMPTS',
    flag: '--max-attempts',
    form: 'a whole number from 1 to 50',
    default: '5',
    description: 'failed starts before the pod is Failed',
    schema: integer(1, 50),
  }),
  setting({
    key: 'gcGrace',
    env: 'ANEX_GC_GRACE',
    flag: '--gc-grace',
    form: `${DURATION_FORM}, from 1m to 24h`,
    default: '10m',
    description: 'age before an instance without pod or record is destroyed',
    schema: duration(MIN, 24 * HOUR),
  }),
  setting({
    key: 'createLag',
    env: 'ANEX_CREATE_LAG',
    flag: '--create-lag',
    form: `${DURATION_FORM}, from 10s to 30m`,
    default: '2m',
    description: 'how long to look for an instance after an unknown create outcome',
    schema: duration(10_000, 30 * MIN),
  }),
  setting({
    key: 'maxCandidatesPerPass',
    env: 'ANEX_MAX_CANDIDATES_PER_PASS',
    flag: '--max-candidates-per-pass',
    form: 'a whole number from 1 to 100',
    default: '10',
    description: 'offers tried in one pass when offers keep vanishing',
    schema: integer(1, 100),
  }),
  setting({
    key: 'podLease',
    env: 'ANEX_POD_LEASE',
    flag: '--pod-lease',
    form: `${DURATION_FORM}, from 30s to 1h`,
    default: '5m',
    description: 'per-pod lease so concurrent passes never provision twice',
    schema: duration(30_000, HOUR),
  }),
  setting({
    key: 'vpnRange',
    env: 'ANEX_VPN_RANGE',
    flag: '--vpn-range',
    form: 'an IPv4 network from /8 to /30 without host bits (e.g. "10.99.0.0/16")',
    default: '10.99.0.0/16',
    description: 'addresses handed to pods over the tunnel',
    schema: cidr,
  }),
  setting({
    key: 'defaultDiskGb',
    env: 'ANEX_DEFAULT_DISK_GB',
    flag: '--default-disk-gb',
    form: 'a whole number of GB from 1 to 10000',
    default: '20',
    description: 'disk allocated when a pod sets no anex.sh/disk-space-gb',
    schema: integer(1, 10_000),
  }),
  setting({
    key: 'heartbeatInterval',
    env: 'ANEX_HEARTBEAT_INTERVAL',
    flag: '--heartbeat-interval',
    form: `${DURATION_FORM}, from 1s to 20s`,
    default: '10s',
    description: 'between node lease renewals',
    schema: duration(1_000, 20_000),
  }),
  setting({
    key: 'leaseDuration',
    env: 'ANEX_LEASE_DURATION',
    flag: '--lease-duration',
    form: `${DURATION_FORM} in whole seconds, from 10s to 5m`,
    default: '40s',
    description: 'node Lease leaseDurationSeconds',
    schema: duration(10_000, 5 * MIN).refine((ms) => ms % 1000 === 0, 'whole seconds'),
  }),
  setting({
    key: 'agentEndpointUrl',
    env: 'ANEX_AGENT_ENDPOINT_URL',
    flag: '--agent-endpoint-url',
    form: 'an https URL (http only for localhost)',
    default: undefined,
    description: 'where agents on rented machines fetch their tunnel config',
    schema: url,
  }),
  setting({
    key: 'tableName',
    env: 'ANEX_TABLE_NAME',
    flag: '--table',
    form: '3-255 letters, digits, "_", "-" or "."',
    default: TABLE.defaultName,
    description: 'DynamoDB table',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/),
  }),
  // Spend limits (ADR 0019). No namespace may rent until the operator enables one: a taint
  // or a toleration is not authorization to spend the operator's money.
  setting({
    key: 'rentNamespaces',
    env: 'ANEX_RENT_NAMESPACES',
    flag: '--rent-namespaces',
    form: NAMESPACES_FORM,
    default: undefined,
    description: 'namespaces whose pods may rent machines (unset: none)',
    schema: rentNamespaces,
  }),
  setting({
    key: 'maxPricePerHour',
    env: 'ANEX_MAX_PRICE_PER_HOUR',
    flag: '--max-price-per-hour',
    form: MONEY_FORM,
    default: undefined,
    description: "ceiling on one pod's machine $/h, whatever its anex.sh/price-max",
    schema: money,
  }),
  setting({
    key: 'maxInstances',
    env: 'ANEX_MAX_INSTANCES',
    flag: '--max-instances',
    form: 'a whole number from 1 to 10000',
    default: undefined,
    description: 'ceiling on instances billing at once',
    schema: integer(1, 10_000),
  }),
  setting({
    key: 'maxSpendPerHour',
    env: 'ANEX_MAX_SPEND_PER_HOUR',
    flag: '--max-spend-per-hour',
    form: MONEY_FORM,
    default: undefined,
    description: 'ceiling on the summed $/h of all instances',
    schema: money,
  }),
  setting({
    key: 'namespaceBudgets',
    env: 'ANEX_NAMESPACE_BUDGETS',
    flag: '--namespace-budgets',
    form: BUDGETS_FORM,
    default: undefined,
    description: "per-namespace budgets ($/day: the namespace's $/h × 24)",
    schema: namespaceBudgets,
  }),
  // Services reach anex pods through forwarder pods (ADR 0024); on when the namespace and the
  // image are set. Environment only: `anex run` has no in-cluster gateway to forward to.
  setting({
    key: 'forwarderNamespace',
    env: 'ANEX_FORWARDER_NAMESPACE',
    form: "a Kubernetes namespace name (the gateway's, e.g. anex-system)",
    default: undefined,
    description:
      'where forwarder pods run: the anex namespace, whose anex-kubelet they reach (unset: no forwarders)',
    schema: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .max(63),
  }),
  setting({
    key: 'forwarderImage',
    env: 'ANEX_FORWARDER_IMAGE',
    form: 'an image reference without spaces (the gateway image, which has anex-kubelet)',
    default: undefined,
    description: "forwarder pods' image",
    schema: z
      .string()
      .regex(/^[^\s]+$/)
      .max(512),
  }),
  setting({
    key: 'forwarderKubeletUrl',
    env: 'ANEX_FORWARDER_KUBELET_URL',
    form: 'an https URL',
    default: undefined,
    description: 'where forwarders reach anex-kubelet (unset: https://anex-kubelet.<namespace>.svc:10250)',
    schema: url.refine((text) => text.startsWith('https://'), 'https only'),
  }),
  setting({
    key: 'forwarderServiceAccount',
    env: 'ANEX_FORWARDER_SERVICE_ACCOUNT',
    form: 'a ServiceAccount name',
    default: DEFAULT_FORWARDER_SERVICE_ACCOUNT,
    description:
      "forwarder pods' ServiceAccount: another name needs anex-kubelet's --forwarder-service-account and the admission policy changed to match (anex manifests makes anex-forwarder)",
    schema: nodeName,
  }),
  setting({
    key: 'forwarderAudience',
    env: 'ANEX_FORWARDER_AUDIENCE',
    form: '1-253 characters without spaces',
    default: DEFAULT_FORWARDER_AUDIENCE,
    description:
      "the audience of forwarders' tokens: another needs anex-kubelet's --forwarder-audience to match",
    schema: z
      .string()
      .regex(/^[^\s]+$/)
      .max(253),
  }),
  setting({
    key: 'baseUrlVastai',
    env: PROVIDER_ENV.vastai.url,
    form: 'an https URL (http only for localhost)',
    default: undefined,
    description: 'vastai API base URL (a simulator in tests)',
    schema: url,
  }),
  setting({
    key: 'baseUrlRunpod',
    env: PROVIDER_ENV.runpod.url,
    form: 'an https URL (http only for localhost)',
    default: undefined,
    description: 'runpod API base URL (a simulator in tests)',
    schema: url,
  }),
] as const satisfies readonly Setting[];

export type ConfigKey =
  | 'clusterId'
  | 'providers'
  | 'nodeNameVastai'
  | 'nodeNameRunpod'
  | 'banTimeout'
  | 'startTimeoutVastai'
  | 'startTimeoutRunpod'
  | 'maxAttempts'
  | 'gcGrace'
  | 'createLag'
  | 'maxCandidatesPerPass'
  | 'podLease'
  | 'vpnRange'
  | 'defaultDiskGb'
  | 'heartbeatInterval'
  | 'leaseDuration'
  | 'agentEndpointUrl'
  | 'tableName'
  | 'baseUrlVastai'
  | 'baseUrlRunpod'
  | 'rentNamespaces'
  | 'maxPricePerHour'
  | 'maxInstances'
  | 'maxSpendPerHour'
  | 'namespaceBudgets'
  | 'forwarderNamespace'
  | 'forwarderImage'
  | 'forwarderKubeletUrl'
  | 'forwarderServiceAccount'
  | 'forwarderAudience';
