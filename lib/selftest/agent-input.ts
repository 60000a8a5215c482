import { isIP } from 'node:net';

/**
 * The agent mode's flags (ADR 0018), checked before anything is read or rented. Each error
 * names the flag and the accepted form; the CLI turns them into exit 2.
 */

/** `--agent-url`: https, or http on loopback only (the rule the launch stub and the Vast log URL follow). */
export function checkAgentUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(
      `--agent-url: ${JSON.stringify(value)} is not a URL; expected the stack's agent endpoint, https://<host>[/<path>]`,
    );
  }
  if (url.username !== '' || url.password !== '')
    throw new Error('--agent-url: a URL with credentials is not accepted; expected https://<host>[/<path>]');
  if (url.search !== '' || url.hash !== '')
    throw new Error(
      `--agent-url: ${JSON.stringify(value)} has a query or fragment; expected https://<host>[/<path>]`,
    );
  if (url.protocol === 'https:') return withoutTrailingSlash(url);
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return withoutTrailingSlash(url);
  throw new Error(
    `--agent-url: ${JSON.stringify(value)} must be https:// (http:// only on loopback: 127.0.0.1, ::1, localhost)`,
  );
}

/** A DNS-1123 label, as Kubernetes names namespaces. */
export function checkNamespace(value: string): string {
  if (/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) return value;
  throw new Error(
    `--namespace: ${JSON.stringify(value)} is not a namespace name (lowercase letters, digits and "-", at most 63)`,
  );
}

export interface AgentModeFlags {
  agentUrl?: string | undefined;
  namespace?: string | undefined;
  kubeconfig?: string | undefined;
}

/**
 * Which flags go together: `--namespace` is required with `--agent-url`, and `--namespace` /
 * `--kubeconfig` mean nothing without it. @returns the problems, empty when none
 */
export function agentModeProblems(flags: AgentModeFlags): string[] {
  if (flags.agentUrl !== undefined) {
    return flags.namespace === undefined
      ? [
          '--namespace <ns> is required with --agent-url: the namespace the selftest pod is created in (one the stack may rent in: ANEX_RENT_NAMESPACES)',
        ]
      : [];
  }
  const stray = [
    ...(flags.namespace === undefined ? [] : ['--namespace']),
    ...(flags.kubeconfig === undefined ? [] : ['--kubeconfig']),
  ];
  return stray.length === 0
    ? []
    : [
        `${stray.join(' and ')} only apply with --agent-url <url> (a deployed stack's agent endpoint); without it the selftest rents itself`,
      ];
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function withoutTrailingSlash(url: URL): string {
  return url.toString().replace(/\/+$/, '');
}
