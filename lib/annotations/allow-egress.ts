import { ALLOW_EGRESS_KEY } from './keys.ts';

/**
 * `anex.sh/allow-egress`: what a pod may reach through the cluster gateway besides its
 * GW_TUNNEL_* destinations and cluster DNS (docs/annotations.md, ADR 0020). The gateway
 * enforces it per peer; everything not listed is refused.
 *
 *   anex.sh/allow-egress: "web:80, db.data:5432, 10.20.0.0/16:443"
 *
 * - `name:port`            the Service `name` in the pod's own namespace
 * - `name.namespace:port`  the Service `name` in `namespace`
 * - `a.b.c.d/n:port`       an IPv4 network, one TCP port
 */
export type EgressEntry =
  | { kind: 'service'; name: string; namespace?: string; port: number }
  | { kind: 'cidr'; cidr: string; port: number };

export interface AllowEgressParse {
  entries: EgressEntry[];
  /** one message per bad entry, naming the annotation, the entry and the accepted form */
  issues: string[];
}

export const ALLOW_EGRESS_FORM =
  'a comma-separated list of Services as name:port or name.namespace:port, and IPv4 networks as a.b.c.d/n:port (e.g. "web:80, db.data:5432, 10.20.0.0/16:443")';

/** Kubernetes Service names are DNS-1035 labels; namespaces DNS-1123 labels. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const PORT = /^[1-9]\d{0,4}$/;

export function parseAllowEgress(value: string): AllowEgressParse {
  const entries: EgressEntry[] = [];
  const issues: string[] = [];
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) {
    return { entries, issues: [`${ALLOW_EGRESS_KEY}: lists nothing; expected ${ALLOW_EGRESS_FORM}`] };
  }
  for (const item of items) {
    const parsed = parseEntry(item);
    if (typeof parsed === 'string') issues.push(`${ALLOW_EGRESS_KEY}: ${JSON.stringify(item)} ${parsed}`);
    else entries.push(parsed);
  }
  return { entries, issues };
}

function parseEntry(item: string): EgressEntry | string {
  const colon = item.lastIndexOf(':');
  if (colon <= 0) return `has no port; expected ${ALLOW_EGRESS_FORM}`;
  const target = item.slice(0, colon);
  const portText = item.slice(colon + 1);
  const port = PORT.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) return 'has a port that is not a number from 1 to 65535';
  if (target.includes('/')) {
    const problem = cidrProblem(target);
    return problem === undefined ? { kind: 'cidr', cidr: target, port } : problem;
  }
  if (/^[\d.]+$/.test(target))
    return `is an address without a prefix length; write it as ${target}/32:${port}`;
  const [name, namespace, ...rest] = target.split('.');
  if (rest.length > 0 || name === undefined) {
    return `is not a Service as name:port or name.namespace:port (write no cluster domain); expected ${ALLOW_EGRESS_FORM}`;
  }
  if (!SERVICE_NAME.test(name)) return `names ${JSON.stringify(name)}, which is not a Service name`;
  if (namespace === undefined) return { kind: 'service', name, port };
  if (!NAMESPACE.test(namespace)) return `names ${JSON.stringify(namespace)}, which is not a namespace name`;
  return { kind: 'service', name, namespace, port };
}

function cidrProblem(text: string): string | undefined {
  const match = CIDR.exec(text);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (match === null || octets.some((o) => o > 255) || prefix > 32) {
    return 'is not an IPv4 network such as 10.20.0.0/16:443';
  }
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) return 'has host bits set in its network';
  if (prefix === 0) return 'allows the whole address space; name the networks the pod needs';
  return undefined;
}

/**
 * The entry as the gateway matches it, `<host>:<port>` or `<cidr>:<port>`. A Service becomes
 * `name.namespace.svc`, which the gateway pod resolves through its own cluster DNS search list
 * (so no cluster domain is assumed); a Service without a namespace is in the pod's.
 */
export function egressDestination(entry: EgressEntry, podNamespace: string): string {
  if (entry.kind === 'cidr') return `${entry.cidr}:${entry.port}`;
  return `${entry.name}.${entry.namespace ?? podNamespace}.svc:${entry.port}`;
}

/**
 * The issues of a pod's `anex.sh/allow-egress`, if it has one: parseRequirements reports them
 * with the other annotation errors (the pod waits, the webhook refuses it).
 */
export function allowEgressIssues(
  annotations: Readonly<Record<string, unknown>> | null | undefined,
): string[] {
  const value = annotations?.[ALLOW_EGRESS_KEY];
  if (value === undefined) return [];
  if (typeof value !== 'string')
    return [`${ALLOW_EGRESS_KEY}: is not a string; expected ${ALLOW_EGRESS_FORM}`];
  return parseAllowEgress(value).issues;
}

/** The pod's allowed destinations for the gateway; bad entries are left out (the gateway allows nothing for them). */
export function allowEgressDestinations(
  annotations: Readonly<Record<string, string>>,
  podNamespace: string,
): string[] {
  const value = annotations[ALLOW_EGRESS_KEY];
  if (value === undefined) return [];
  return parseAllowEgress(value).entries.map((entry) => egressDestination(entry, podNamespace));
}
