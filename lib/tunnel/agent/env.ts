import { POD_UID_ENV_VAR } from '../../providers/provider.ts';

/** Env var names the launch stub and the agent read (the reconciler sets them at launch). */
export const AGENT_ENV = {
  url: 'ANEX_AGENT_URL',
  token: 'ANEX_BOOTSTRAP_TOKEN',
  podUid: POD_UID_ENV_VAR,
  instanceId: 'ANEX_INSTANCE_ID',
  instanceIdEnv: 'ANEX_INSTANCE_ID_ENV',
  insecure: 'ANEX_AGENT_INSECURE',
  caFile: 'ANEX_AGENT_CA_FILE',
} as const;
