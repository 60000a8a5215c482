import type { TunnelledAgentConfig } from './agent-config.ts';

/**
 * The agent config as lines a POSIX shell reads without a JSON parser: `<key> <base64>` per
 * line, repeated keys for lists (`arg`, `env`, `wstunnel_arg`, `wstunnel_env`). Base64 keeps
 * every value on one line whatever it contains; the agent decodes with `base64 -d`.
 */
export const BUNDLE_CONTENT_TYPE = 'text/x-anex-agent-bundle';

function b64(value: string | number): string {
  return Buffer.from(String(value), 'utf8').toString('base64');
}

export function renderAgentBundle(config: TunnelledAgentConfig): string {
  const lines: [string, string | number][] = [
    ['version', config.version],
    ['pod', config.podUid],
    ['address', config.address],
    ['key_source', config.privateKeySource],
    ['wireproxy_conf', config.wireproxy.config],
    ['wireproxy_url', config.wireproxy.binary.url],
    ['wireproxy_sha256', config.wireproxy.binary.sha256 ?? ''],
    ['wireproxy_format', config.wireproxy.binary.format],
    ['health_port', config.healthPort],
    ['ready_timeout', config.readyTimeoutSeconds],
    ['alive_interval', config.aliveIntervalSeconds],
    ['deadman_after', config.deadManSeconds],
    ['restart_policy', config.restartPolicy],
    ['credential', config.statusCredential],
    ...config.argv.map((arg): [string, string] => ['arg', arg]),
    ...Object.entries(config.env).map(([name, value]): [string, string] => ['env', `${name}=${value}`]),
  ];
  if (config.wstunnel) {
    const w = config.wstunnel;
    lines.push(
      ['wstunnel_url', w.binary.url],
      ['wstunnel_sha256', w.binary.sha256 ?? ''],
      ['wstunnel_format', w.binary.format],
    );
    lines.push(...w.args.map((arg): [string, string] => ['wstunnel_arg', arg]));
    lines.push(
      ...Object.entries(w.env).map(([name, value]): [string, string] => ['wstunnel_env', `${name}=${value}`]),
    );
  }
  return `${lines.map(([key, value]) => `${key} ${b64(value)}`).join('\n')}\n`;
}
