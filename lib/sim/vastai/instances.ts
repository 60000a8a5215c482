import type { ContainerStart } from '../common/container.ts';
import { findSimImage } from '../common/images.ts';
import type { VastAsk } from './marketplace.ts';

/** How a simulated instance behaves after create (set per machine or per image). */
export type VastBootPlan = 'normal' | 'never-start' | 'oci-error' | 'image-pull-error' | 'exited' | 'offline';

/** Time the simulated lifecycle takes, ms. Tests use a few ms; the CLI seconds. */
export interface VastTimings {
  /** `actual_status` null → `loading`. */
  provisionMs: number;
  /** `loading` → `running`. */
  loadingMs: number;
}

export interface VastInstanceRecord {
  id: number;
  ask: VastAsk;
  label: string | null;
  image: string;
  env: Record<string, string>;
  runtype: string;
  args: string[];
  onstart: string | null;
  /** how the runtime starts the container (lib/sim/common/container.ts); undefined: the image was not found */
  container: ContainerStart | undefined;
  disk: number;
  createdAt: number;
  destroyed: boolean;
  plan: VastBootPlan;
  dphTotal: number;
  /** the container's main process ended (a simulated machine really ran it) */
  exit?: { at: number; code: number | null };
}

interface Status {
  actual: string | null;
  message: string | null;
}

/** The status at `now`, computed from the creation time (no timers to leak). */
export function statusAt(record: VastInstanceRecord, now: number, timings: VastTimings): Status {
  const elapsed = now - record.createdAt;
  if (elapsed < timings.provisionMs) return { actual: null, message: null };
  const failedAfterLoad = elapsed >= timings.provisionMs + timings.loadingMs;
  // vast-cli SKILL.md: "`exited`: Container process exited unexpectedly" — also after a normal
  // finish in args runtype (vast audit #7; whether a clean exit shows `stopped` is unconfirmed,
  // so the stricter reading: `exited` either way, no status_msg to tell them apart).
  if (record.exit !== undefined) return { actual: 'exited', message: null };
  if (record.plan === 'normal' && record.container?.ok === false) {
    // The image is there but the runtime cannot start what the launch names (Docker ≥ 23 wording).
    return failedAfterLoad
      ? {
          actual: 'created',
          message: `Error response from daemon: failed to create task for container: failed to create shim task: ${record.container.message}`,
        }
      : loading(record);
  }
  switch (record.plan) {
    case 'oci-error':
      return {
        actual: 'created',
        message:
          'Error: container failed to start: OCI runtime create failed: runc create failed: unable to start container process',
      };
    case 'image-pull-error':
      return {
        actual: 'created',
        // A private image pulled without its login is refused, not missing (docker's words).
        message:
          findSimImage(record.image)?.login === undefined
            ? `Error response from daemon: manifest for ${record.image} not found: manifest unknown`
            : `Error response from daemon: pull access denied for ${record.image}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      };
    case 'exited':
      return failedAfterLoad ? { actual: 'exited', message: 'container exited' } : loading(record);
    case 'offline':
      return failedAfterLoad ? { actual: 'offline', message: null } : loading(record);
    case 'never-start':
      return loading(record);
    default:
      return failedAfterLoad
        ? { actual: 'running', message: `success, running ${record.image}/${record.runtype}` }
        : loading(record);
  }
}

function loading(record: VastInstanceRecord): Status {
  return { actual: 'loading', message: `Pulling image ${record.image}` };
}

/** The instance object of `GET /api/v0/instances/{id}/` and the v1 list. */
export function renderInstance(
  record: VastInstanceRecord,
  now: number,
  timings: VastTimings,
): Record<string, unknown> {
  const status = statusAt(record, now, timings);
  const row = record.ask.row;
  const running = status.actual === 'running';
  return {
    id: record.id,
    label: record.label,
    machine_id: row.machine_id,
    host_id: row.host_id,
    bundle_id: row.bundle_id,
    actual_status: status.actual,
    intended_status: 'running',
    cur_state: 'running',
    next_state: 'running',
    status_msg: status.message,
    image_uuid: record.image,
    image_runtype: record.runtype,
    image_args: record.args,
    // Port keys come back too: show_instances.yaml's example is
    // `extra_env: [["DOG","CAT"],["-p 70001:70001","1"]]` (vast audit #15).
    extra_env: Object.entries(record.env),
    onstart: record.onstart ?? '',
    start_date: record.createdAt / 1000,
    end_date: row.end_date,
    duration: row.duration,
    dph_base: record.ask.dphBase,
    dph_total: record.dphTotal,
    gpu_name: row.gpu_name,
    gpu_ram: row.gpu_ram,
    gpu_totalram: (row.gpu_ram as number) * record.ask.numGpus,
    num_gpus: record.ask.numGpus,
    cpu_cores_effective: row.cpu_cores_effective,
    cpu_ram: row.cpu_ram,
    disk_space: record.disk,
    geolocation: row.geolocation ?? undefined,
    verification: row.verification,
    hosting_type: row.hosting_type,
    // The stricter reading of vast audit #10: addresses may carry whitespace (the docs'
    // local_ipaddrs example has a trailing space; dstack and vast-cli strip every string).
    public_ipaddr: `${String(row.public_ipaddr)} `,
    local_ipaddrs: '10.0.0.2 ',
    ssh_host: `ssh${(record.id % 9) + 1}.vast.ai`,
    ssh_port: 20_000 + (record.id % 40_000),
    direct_port_start: running ? 41_000 : -1,
    direct_port_end: running ? 41_099 : -1,
    ports: running ? publishedPorts(record) : {},
  };
}

/** Docker-style port map, as dstack and SkyPilot read it (providers.md §8.6). */
function publishedPorts(record: VastInstanceRecord): Record<string, { HostIp: string; HostPort: string }[]> {
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  let next = 41_000;
  for (const key of Object.keys(record.env)) {
    const match = /^-p\s+(\d+):(\d+)(\/udp)?$/.exec(key);
    if (!match) continue;
    ports[`${match[2]}/${match[3] ? 'udp' : 'tcp'}`] = [{ HostIp: '0.0.0.0', HostPort: String(next++) }];
  }
  return ports;
}
