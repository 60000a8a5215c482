import { readFileSync } from 'node:fs';
import { POD_UID_ENV_VAR } from '../../providers/provider.ts';

/**
 * The agent script (agent.sh beside this file), read at run time so the shell file stays the
 * single source a reviewer reads and `sh -n` checks. Bundlers must copy agent.sh next to the
 * bundle (CDK NodejsFunction: `commandHooks.afterBundling`), or set ANEX_AGENT_SCRIPT_PATH.
 */
export const AGENT_SCRIPT_URL = new URL('./agent.sh', import.meta.url);

let cached: string | undefined;

export function agentScript(): string {
  if (cached === undefined) {
    const override = process.env.ANEX_AGENT_SCRIPT_PATH;
    cached = readFileSync(override ?? AGENT_SCRIPT_URL, 'utf8');
  }
  return cached;
}

/** Env var names the agent reads (the reconciler sets them at launch). */
export const AGENT_ENV = {
  url: 'ANEX_AGENT_URL',
  token: 'ANEX_BOOTSTRAP_TOKEN',
  podUid: POD_UID_ENV_VAR,
  instanceId: 'ANEX_INSTANCE_ID',
  instanceIdEnv: 'ANEX_INSTANCE_ID_ENV',
  insecure: 'ANEX_AGENT_INSECURE',
  caFile: 'ANEX_AGENT_CA_FILE',
} as const;
