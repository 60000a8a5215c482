import { AnexError } from '../../errors.ts';
import type { RegistryAuth } from '../../images/keyring.ts';
import { normalizeVastOffer } from '../../offers/normalize/vastai.ts';
import type { Offer } from '../../offers/offer.ts';
import { markedEnv, tagOfMarks } from '../common/launch-marks.ts';
import type { Instance, InstanceState, InstanceTag, LaunchSpec } from '../provider.ts';
import { formatTag, TAG_ENV_VAR } from '../provider.ts';
import { DEAD_STATUSES, EXITED_STATUS, faultOfStatusMessage } from './errors.ts';
import type { VastInstance, VastOfferRow } from './schemas.ts';

/** Vast ↔ domain. The offer mapping is the single call site {@link toOffer}. */

type Loose<T> = { [K in keyof T]: T[K] | undefined };

/** Drops undefined fields, so optional properties are absent rather than undefined. */
function compact<T extends object>(value: Loose<T>): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** One search row → {@link Offer}: the one place the offer mapping is called. */
export function toOffer(row: VastOfferRow): Offer {
  return normalizeVastOffer(row);
}

/** Vast status fields → {@link InstanceState} (providers.md §2.8, §5). */
export function toInstanceState(raw: VastInstance | null): InstanceState {
  // vast-cli instance_exist: `intended_status or actual_status` in destroyed/terminated/offline → gone (vast audit #11).
  if (!raw || raw.actual_status === 'destroyed' || raw.intended_status === 'destroyed')
    return { phase: 'gone' };
  const actual = raw.actual_status ?? null;
  const fault = faultOfStatusMessage(raw.status_msg, raw.image_uuid);
  // The container ended (vast audit #7): whose fault is the reconciler's call, from the agent's
  // reports — only an image that never pulled says so itself. No exit code: Vast shows none.
  if (actual === EXITED_STATUS && fault !== 'image') return { phase: 'exited' };
  if (fault) return { phase: 'failed', fault, reason: `status_msg: ${raw.status_msg}` };
  if (actual && DEAD_STATUSES.has(actual)) {
    return { phase: 'failed', fault: 'host', reason: `actual_status ${actual}: it will never reach running` };
  }
  if (actual === 'running' && raw.intended_status !== 'stopped') return { phase: 'running' };
  if (raw.intended_status === 'stopped') {
    return {
      phase: 'failed',
      fault: 'host',
      reason: `intended_status flipped to stopped (actual_status ${actual})`,
    };
  }
  if (actual === null) return { phase: 'pending' };
  return raw.status_msg ? { phase: 'starting', message: raw.status_msg } : { phase: 'starting' };
}

/** The tag of an instance: its label, or failing that the tag env var (a second ownership mark). */
export function tagOf(raw: VastInstance): InstanceTag | undefined {
  const env = raw.extra_env?.find(([key]) => key === TAG_ENV_VAR);
  return tagOfMarks(raw.label, env?.[1]);
}

export function toInstance(raw: VastInstance): Instance {
  const tag = tagOf(raw);
  return compact<Instance>({
    id: String(raw.id),
    provider: 'vastai',
    tag,
    state: toInstanceState(raw),
    machineId: raw.machine_id === null || raw.machine_id === undefined ? undefined : String(raw.machine_id),
    gpuName: raw.gpu_name ?? undefined,
    gpuCount: raw.num_gpus ?? undefined,
    pricePerHour: raw.dph_total ?? undefined,
    createdAt: raw.start_date ? Math.round(raw.start_date * 1000) : undefined,
    // dstack strips it, vast-cli strips every string, the docs' local_ipaddrs has a trailing space (vast audit #10).
    publicIp: raw.public_ipaddr?.trim() || undefined,
  });
}

/**
 * The `PUT /api/v0/asks/{id}/` body, in Vast's exec form. With `runtype: args`, `onstart` is
 * the container's ENTRYPOINT taken verbatim as ONE executable path and `args` is its argv
 * (dstack api_client.py: `"onstart": "/bin/sh", "args": ["-c", …]`; vast-cli create__instance:
 * `--onstart-cmd 'bash' --args -c '…'`; a one-string `"bash -c …"` fails with `stat bash -c …:
 * no such file or directory` — vast audit #1). So Kubernetes' `command` maps to onstart =
 * command[0] and args = command[1..] + args; without a command, onstart is left out and the
 * image ENTRYPOINT is kept, with the pod's args as CMD. Nothing is shell-quoted. Env is an
 * object (the OpenAPI says string; the docs and CLI send an object); ports ride along as `-p`
 * keys.
 */
function execForm(launch: LaunchSpec): { onstart?: string; args?: string[] } {
  const [entrypoint, ...rest] = launch.command ?? [];
  const args = [...rest, ...(launch.args ?? [])];
  if (entrypoint === undefined) return launch.args === undefined ? {} : { args };
  return { onstart: entrypoint, args };
}

/**
 * Vast's `image_login`: docker login's flags in one string, `-u <user> -p <password> <registry>`
 * (docs creating-instances-with-api.mdx "image_login"; vast-cli `--login` "docker login
 * arguments for private repo authentication"; dstack and others send the same). The string is
 * split on white space at the host, so a login containing any cannot be carried: refused,
 * naming the Secret, never the values.
 */
export function imageLogin(auth: RegistryAuth): string {
  if (/\s/.test(`${auth.username}${auth.password}${auth.registry}`) || auth.username === '') {
    throw new AnexError(
      `the login for ${auth.registry} from imagePullSecret "${auth.secret}" cannot be given to Vast.AI: its image_login ("-u <user> -p <password> <registry>") carries no empty user and no white space in the user or password; use a registry token without spaces`,
      { kind: 'invalid-input' },
    );
  }
  return `-u ${auth.username} -p ${auth.password} ${auth.registry}`;
}

export function toCreateBody(launch: LaunchSpec, tag: InstanceTag): Record<string, unknown> {
  const env = markedEnv(launch, tag);
  for (const port of launch.ports ?? []) {
    const [number, protocol] = port.split('/');
    env[`-p ${number}:${number}${protocol === 'udp' ? '/udp' : ''}`] = '1';
  }
  return compact<Record<string, unknown>>({
    image: launch.image,
    disk: launch.diskGb,
    label: formatTag(tag),
    env,
    runtype: 'args',
    ...execForm(launch),
    ...(launch.registryAuth === undefined ? {} : { image_login: imageLogin(launch.registryAuth) }),
    cancel_unavail: true,
    target_state: 'running',
  });
}
