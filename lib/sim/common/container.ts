import type { SimImage } from './images.ts';

/** What a runtime starts in a simulated container: the process and its surroundings. */
export interface ContainerLaunch {
  argv: readonly string[];
  /** image Env overlaid by the env of the create request */
  env: Readonly<Record<string, string>>;
  workingDir: string;
}

/** The start of a container, as Docker/runc would do it, or its failure as they word it. */
export type ContainerStart =
  | { ok: true; launch: ContainerLaunch }
  | { ok: false; reason: 'not-found' | 'no-command' | 'exec-format'; message: string };

/** Overrides a provider passes to the runtime (Vast onstart/args, RunPod entrypoint/cmd). */
export interface RuntimeOverrides {
  /** replaces the image ENTRYPOINT; like `docker run --entrypoint`, it also drops the image CMD */
  entrypoint?: readonly string[];
  /** replaces the image CMD */
  cmd?: readonly string[];
  env: Readonly<Record<string, string>>;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Docker's rules (`docker run` reference: "--entrypoint … also clears out any default
 * command"; ENTRYPOINT + CMD form the argv): argv = entrypoint + cmd. argv[0] must be a
 * program of the image: an absolute path as is, a bare name through PATH — else runc's
 * `exec: "<name>": stat <name>: no such file or directory` / `executable file not found in
 * $PATH`, the words the vast audit (#1) recorded from a live run. A machine of another
 * architecture gets `exec format error`.
 */
export function startContainer(
  image: SimImage,
  overrides: RuntimeOverrides,
  machineArch: 'amd64' | 'arm64' = 'amd64',
): ContainerStart {
  const entrypoint = overrides.entrypoint ?? image.entrypoint ?? [];
  const cmd = overrides.cmd ?? (overrides.entrypoint === undefined ? (image.cmd ?? []) : []);
  const argv = [...entrypoint, ...cmd];
  const env = { ...envObject(image.env), ...overrides.env };
  const first = argv[0];
  if (first === undefined || first === '') {
    return { ok: false, reason: 'no-command', message: 'Error response from daemon: No command specified' };
  }
  if (!image.architectures.includes(machineArch)) {
    return { ok: false, reason: 'exec-format', message: runcFailure(`exec ${first}: exec format error`) };
  }
  if (resolveProgram(first, image, env.PATH ?? DEFAULT_PATH) === undefined) {
    const detail = first.includes('/')
      ? `exec: "${first}": stat ${first}: no such file or directory`
      : `exec: "${first}": executable file not found in $PATH`;
    return { ok: false, reason: 'not-found', message: runcFailure(detail) };
  }
  return { ok: true, launch: { argv, env, workingDir: image.workingDir ?? '/' } };
}

/** The absolute path argv[0] runs, or undefined when the image has no such program. */
export function resolveProgram(name: string, image: SimImage, path: string): string | undefined {
  if (name.includes('/')) return image.executables.includes(name) ? name : undefined;
  for (const dir of path.split(':')) {
    const candidate = `${dir.replace(/\/$/, '')}/${name}`;
    if (image.executables.includes(candidate)) return candidate;
  }
  return undefined;
}

function runcFailure(detail: string): string {
  return `OCI runtime create failed: runc create failed: unable to start container process: ${detail}: unknown`;
}

function envObject(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

/**
 * The start with variables the platform itself sets in every container (Vast CONTAINER_ID,
 * RunPod RUNPOD_POD_ID: the instance's own id, ADR 0021), after the request's env as the
 * platform's own. A failed start stays as it is.
 */
export function withPlatformEnv(
  start: ContainerStart | undefined,
  env: Readonly<Record<string, string>>,
): ContainerStart | undefined {
  if (start?.ok !== true) return start;
  return { ok: true, launch: { ...start.launch, env: { ...start.launch.env, ...env } } };
}
