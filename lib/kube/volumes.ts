import type { V1Container, V1KeyToPath, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { PodView } from './cluster.ts';
import { type ContainerResources, fieldValue, type PodFields, quantity, resourceValue } from './env.ts';
import { isServiceAccountVolume } from './pod-spec-support.ts';

/**
 * A pod's volumes as files on the rented machine (issue #14 §2): secret, configMap, downwardAPI
 * and projected volumes are read by the control plane when the agent bootstraps and handed
 * over in its TLS answer; the agent writes them at their mount paths before anything runs
 * (docs/agent-protocol.md, `volumes`). emptyDir is made by the agent. Kubelet's rules where
 * it has them (pkg/volume/secret, configmap, downwardapi, projected; pkg/volume/util
 * atomic_writer): keys become file names, `items` select and rename, modes default to 0644,
 * a missing non-optional source or key stops the start ("MountVolume.SetUp failed …").
 * Other volume kinds are refused (lib/kube/pod-spec-support.ts).
 */

/** kubelet's default file mode for secret, configMap, downwardAPI and projected volumes (0644) */
export const DEFAULT_MODE = 0o644;

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface DownwardItem {
  path: string;
  mode?: number;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
}

/** One source of files, in a volume of its own or in a projected one. */
export type FileSource =
  | { kind: 'Secret' | 'ConfigMap'; name: string; items?: readonly KeyToPath[]; optional?: boolean }
  | { kind: 'downwardAPI'; items: readonly DownwardItem[] };

export type VolumeSourceView =
  | { kind: 'emptyDir'; medium?: 'Memory'; sizeLimitBytes?: number }
  | { kind: 'files'; sources: readonly FileSource[]; defaultMode?: number };

export interface VolumeView {
  name: string;
  source: VolumeSourceView;
}

export interface MountView {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

/** One file the agent writes: path relative to the mount, mode, bytes in base64. */
export interface AgentFile {
  path: string;
  mode: number;
  data: string;
}

/** One mount as the agent makes it (docs/agent-protocol.md `volumes`). */
export type AgentVolume =
  | { name: string; path: string; readOnly?: boolean; files: AgentFile[] }
  | { name: string; path: string; readOnly?: boolean; file: { mode: number; data: string } }
  | {
      name: string;
      path: string;
      readOnly?: boolean;
      subPath?: string;
      emptyDir: { medium?: 'Memory'; sizeLimitBytes?: number };
    };

/** Reads every key of a Secret or ConfigMap as bytes; undefined when it does not exist. */
export type FileReader = (
  kind: 'Secret' | 'ConfigMap',
  name: string,
) => Promise<Record<string, Uint8Array> | undefined>;

/**
 * The volumes the agent can make, from the spec (unsupported kinds are left to the refusal);
 * `skipped`: the service-account volume, which is never given to the machine.
 */
export function volumesOf(spec: V1PodSpec | undefined): { volumes: VolumeView[]; skipped: string[] } {
  const volumes: VolumeView[] = [];
  const skipped: string[] = [];
  for (const volume of spec?.volumes ?? []) {
    if (isServiceAccountVolume(volume)) {
      skipped.push(volume.name);
      continue;
    }
    const source = sourceOf(volume);
    if (source !== undefined) volumes.push({ name: volume.name, source });
  }
  return { volumes, skipped };
}

function sourceOf(volume: V1Volume): VolumeSourceView | undefined {
  if (volume.emptyDir !== undefined) {
    const limit =
      volume.emptyDir.sizeLimit === undefined ? undefined : quantity(String(volume.emptyDir.sizeLimit));
    return {
      kind: 'emptyDir',
      ...(volume.emptyDir.medium === 'Memory' ? { medium: 'Memory' as const } : {}),
      ...(limit === undefined ? {} : { sizeLimitBytes: Math.ceil(limit) }),
    };
  }
  const files = (sources: FileSource[], defaultMode: number | undefined): VolumeSourceView => ({
    kind: 'files',
    sources,
    ...(defaultMode === undefined ? {} : { defaultMode }),
  });
  if (volume.secret !== undefined) {
    const s = volume.secret;
    return files([keyed('Secret', s.secretName ?? '', s.items, s.optional)], s.defaultMode);
  }
  if (volume.configMap !== undefined) {
    const c = volume.configMap;
    return files([keyed('ConfigMap', c.name ?? '', c.items, c.optional)], c.defaultMode);
  }
  if (volume.downwardAPI !== undefined)
    return files(
      [{ kind: 'downwardAPI', items: downward(volume.downwardAPI.items) }],
      volume.downwardAPI.defaultMode,
    );
  if (volume.projected !== undefined) {
    const sources: FileSource[] = [];
    for (const s of volume.projected.sources ?? []) {
      if (s.secret !== undefined)
        sources.push(keyed('Secret', s.secret.name ?? '', s.secret.items, s.secret.optional));
      if (s.configMap !== undefined)
        sources.push(keyed('ConfigMap', s.configMap.name ?? '', s.configMap.items, s.configMap.optional));
      if (s.downwardAPI !== undefined)
        sources.push({ kind: 'downwardAPI', items: downward(s.downwardAPI.items) });
    }
    return files(sources, volume.projected.defaultMode);
  }
  return undefined;
}

function keyed(
  kind: 'Secret' | 'ConfigMap',
  name: string,
  items: V1KeyToPath[] | undefined,
  optional: boolean | undefined,
): FileSource {
  return {
    kind,
    name,
    ...(items === undefined
      ? {}
      : {
          items: items.map((i) => ({
            key: i.key,
            path: i.path,
            ...(i.mode === undefined ? {} : { mode: i.mode }),
          })),
        }),
    ...(optional === undefined ? {} : { optional }),
  };
}

function downward(items: readonly DownwardItem[] | undefined): DownwardItem[] {
  return (items ?? []).map((i) => ({ ...i }));
}

/** The container's mounts, without those of skipped volumes (the service-account token's). */
export function mountsOf(container: V1Container, skipped: readonly string[]): MountView[] {
  return (container.volumeMounts ?? [])
    .filter((m) => !skipped.includes(m.name))
    .map((m) => ({
      name: m.name,
      mountPath: m.mountPath,
      ...(m.readOnly === true ? { readOnly: true } : {}),
      ...(m.subPath === undefined || m.subPath === '' ? {} : { subPath: m.subPath }),
    }));
}

/**
 * The mounts of every container of the pod, init containers first, each path once: one
 * filesystem on the rented machine holds them all.
 */
export function podMounts(pod: Pick<PodView, 'containers' | 'initContainers'>): MountView[] {
  const seen = new Set<string>();
  const out: MountView[] = [];
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    for (const m of c.mounts ?? []) {
      if (seen.has(m.mountPath)) continue;
      seen.add(m.mountPath);
      out.push(m);
    }
  }
  return out;
}

/** The Secrets and ConfigMaps the volumes read (for the pre-rent check and RBAC). */
export function volumeSources(
  volumes: readonly VolumeView[],
): { kind: 'Secret' | 'ConfigMap'; name: string }[] {
  const out = new Map<string, { kind: 'Secret' | 'ConfigMap'; name: string }>();
  for (const v of volumes) {
    if (v.source.kind !== 'files') continue;
    for (const s of v.source.sources)
      if (s.kind !== 'downwardAPI') out.set(`${s.kind}/${s.name}`, { kind: s.kind, name: s.name });
  }
  return [...out.values()];
}

export type VolumesOutcome = { ok: true; volumes: AgentVolume[] } | { ok: false; message: string };

export interface VolumeContext {
  fields: PodFields;
  /** each container's resources, by name (a downwardAPI resourceFieldRef names one) */
  resources: Readonly<Record<string, ContainerResources>>;
  read: FileReader;
}

/**
 * The mounts of one container, resolved: every file with its bytes. A missing source or key
 * that is not optional fails with kubelet's words (names only, never a value).
 */
export async function resolveVolumes(
  volumes: readonly VolumeView[],
  mounts: readonly MountView[],
  context: VolumeContext,
): Promise<VolumesOutcome> {
  const cache = new Map<string, Promise<Record<string, Uint8Array> | undefined>>();
  const read: FileReader = (kind, name) => {
    const key = `${kind}/${name}`;
    let data = cache.get(key);
    if (data === undefined) {
      data = context.read(kind, name);
      cache.set(key, data);
    }
    return data;
  };
  const out: AgentVolume[] = [];
  for (const mount of mounts) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (volume === undefined) continue; // a refused kind: the pod never gets this far
    const base = {
      name: mount.name,
      path: mount.mountPath,
      ...(mount.readOnly === true ? { readOnly: true } : {}),
    };
    if (volume.source.kind === 'emptyDir') {
      const { medium, sizeLimitBytes } = volume.source;
      out.push({
        ...base,
        ...(mount.subPath === undefined ? {} : { subPath: mount.subPath }),
        emptyDir: {
          ...(medium === undefined ? {} : { medium }),
          ...(sizeLimitBytes === undefined ? {} : { sizeLimitBytes }),
        },
      });
      continue;
    }
    const files = await filesOf(volume.name, volume.source, { ...context, read });
    if (!files.ok) return files;
    out.push(mounted(base, files.files, mount.subPath));
  }
  return { ok: true, volumes: out };
}

type Files = Map<string, { mode: number; data: Uint8Array }>;

async function filesOf(
  volume: string,
  source: Extract<VolumeSourceView, { kind: 'files' }>,
  context: VolumeContext,
): Promise<{ ok: true; files: Files } | { ok: false; message: string }> {
  const files: Files = new Map();
  const mode = source.defaultMode ?? DEFAULT_MODE;
  const failed = (why: string) => ({
    ok: false as const,
    message: `MountVolume.SetUp failed for volume "${volume}" : ${why}`,
  });
  for (const s of source.sources) {
    if (s.kind === 'downwardAPI') {
      for (const item of s.items) {
        const value = downwardValue(item, context);
        if (value === undefined) return failed(`downwardAPI item ${item.path} cannot be read`);
        files.set(item.path, { mode: item.mode ?? mode, data: new TextEncoder().encode(value) });
      }
      continue;
    }
    const data = await context.read(s.kind, s.name);
    const label = s.kind === 'Secret' ? 'secret' : 'configmap';
    if (data === undefined) {
      if (s.optional === true) continue;
      return failed(`${label} "${s.name}" not found`);
    }
    if (s.items === undefined) {
      for (const [key, bytes] of Object.entries(data)) files.set(key, { mode, data: bytes });
      continue;
    }
    for (const item of s.items) {
      const bytes = data[item.key];
      if (bytes === undefined) {
        if (s.optional === true) continue;
        return failed(
          `${label} references non-existent ${label === 'secret' ? 'secret' : 'config'} key: ${item.key}`,
        );
      }
      files.set(item.path, { mode: item.mode ?? mode, data: bytes });
    }
  }
  return { ok: true, files };
}

function downwardValue(item: DownwardItem, context: VolumeContext): string | undefined {
  if (item.fieldRef !== undefined) {
    const path = item.fieldRef.fieldPath;
    // kubelet's fieldpath.FormatMap: key="value" lines, sorted, no trailing newline
    if (path === 'metadata.labels' || path === 'metadata.annotations') {
      const map = path === 'metadata.labels' ? context.fields.labels : context.fields.annotations;
      return Object.keys(map)
        .sort()
        .map((k) => `${k}=${JSON.stringify(map[k])}`)
        .join('\n');
    }
    return fieldValue(path, context.fields);
  }
  if (item.resourceFieldRef !== undefined) {
    const name = item.resourceFieldRef.containerName ?? '';
    return resourceValue(item.resourceFieldRef, context.resources[name] ?? {});
  }
  return undefined;
}

/** A volume's files at a mount: the whole volume, one file of it, or a directory of it (subPath). */
function mounted(
  base: { name: string; path: string; readOnly?: boolean },
  files: Files,
  subPath: string | undefined,
): AgentVolume {
  const encode = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  if (subPath !== undefined) {
    const one = files.get(subPath);
    if (one !== undefined) return { ...base, file: { mode: one.mode, data: encode(one.data) } };
  }
  const prefix = subPath === undefined ? '' : `${subPath.replace(/\/+$/, '')}/`;
  const list: AgentFile[] = [];
  for (const [path, f] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (!path.startsWith(prefix)) continue;
    list.push({ path: path.slice(prefix.length), mode: f.mode, data: encode(f.data) });
  }
  return { ...base, files: list };
}
