import type { V1Container, V1EnvFromSource, V1EnvVar, V1Pod } from '@kubernetes/client-node';

/**
 * A container's environment as the kubelet builds it (pkg/kubelet/kubelet_pods.go
 * makeEnvironmentVariables; virtual-kubelet node/api/... podutils/env.go): `envFrom` sources
 * first, in order, each key under its prefix; then `env` entries in order, later ones winning;
 * `$(VAR)` in a value expands to a variable defined before it (`$$` is a literal `$`; an
 * unknown reference stays as written). Values from Secrets and ConfigMaps are read when the
 * agent bootstraps and handed over in its TLS answer only: they are never in the spec view
 * the reconciler keeps, nor in state, logs or events.
 */

/** One `env` entry, as the spec has it (values from elsewhere not yet read). */
export type EnvVarSpec =
  | { name: string; value: string }
  | { name: string; secretKeyRef: KeyRef }
  | { name: string; configMapKeyRef: KeyRef }
  | { name: string; fieldRef: { fieldPath: string } }
  | { name: string; resourceFieldRef: { resource: string; divisor?: string } };

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

/** One `envFrom` entry. */
export interface EnvFromSpec {
  prefix?: string;
  source: { kind: 'Secret' | 'ConfigMap'; name: string; optional?: boolean };
}

/** What the pod's fieldRefs may read (kubelet's podFieldSelectorRuntimeValue). */
export interface PodFields {
  name: string;
  namespace: string;
  uid: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  nodeName?: string;
  serviceAccountName?: string;
  podIP?: string;
  hostIP?: string;
}

/** The container's resources, for resourceFieldRef (Kubernetes quantities as strings). */
export interface ContainerResources {
  requests?: Readonly<Record<string, string>>;
  limits?: Readonly<Record<string, string>>;
}

/** Reads a Secret's or ConfigMap's string data; undefined when it does not exist. */
export type SourceReader = (
  kind: 'Secret' | 'ConfigMap',
  name: string,
) => Promise<Record<string, string> | undefined>;

export type EnvOutcome =
  | { ok: true; env: Record<string, string> }
  /** kubelet's CreateContainerConfigError, with its message (names only, never a value) */
  | { ok: false; message: string };

/** Reads `env` and `envFrom` of a V1Container; entries it cannot represent are returned as issues. */
export function envSpecOf(container: V1Container): {
  env: EnvVarSpec[];
  envFrom: EnvFromSpec[];
  issues: string[];
} {
  const issues: string[] = [];
  const env: EnvVarSpec[] = [];
  for (const variable of container.env ?? []) {
    const spec = envVarSpec(variable);
    if (typeof spec === 'string') issues.push(`containers[${container.name}].env ${variable.name}: ${spec}`);
    else env.push(spec);
  }
  const envFrom: EnvFromSpec[] = [];
  for (const [i, from] of (container.envFrom ?? []).entries()) {
    const spec = envFromSpec(from);
    if (spec === undefined)
      issues.push(
        `containers[${container.name}].envFrom[${i}]: set exactly one of secretRef or configMapRef`,
      );
    else envFrom.push(spec);
  }
  return { env, envFrom, issues };
}

function envVarSpec(variable: V1EnvVar): EnvVarSpec | string {
  const from = variable.valueFrom;
  if (from === undefined) return { name: variable.name, value: variable.value ?? '' };
  if (from.secretKeyRef !== undefined)
    return { name: variable.name, secretKeyRef: keyRef(from.secretKeyRef) };
  if (from.configMapKeyRef !== undefined)
    return { name: variable.name, configMapKeyRef: keyRef(from.configMapKeyRef) };
  if (from.fieldRef !== undefined) {
    const path = from.fieldRef.fieldPath;
    if (!SUPPORTED_FIELD.test(path))
      return `valueFrom.fieldRef ${path} is not one anex can give (metadata.name, metadata.namespace, metadata.uid, metadata.labels['…'], metadata.annotations['…'], spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP)`;
    return { name: variable.name, fieldRef: { fieldPath: path } };
  }
  if (from.resourceFieldRef !== undefined) {
    const { resource, divisor } = from.resourceFieldRef;
    return {
      name: variable.name,
      resourceFieldRef: { resource, ...(divisor === undefined ? {} : { divisor: String(divisor) }) },
    };
  }
  return 'valueFrom names no source anex can read (secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef)';
}

function keyRef(ref: { name?: string; key: string; optional?: boolean }): KeyRef {
  return {
    name: ref.name ?? '',
    key: ref.key,
    ...(ref.optional === undefined ? {} : { optional: ref.optional }),
  };
}

function envFromSpec(from: V1EnvFromSource): EnvFromSpec | undefined {
  const prefix = from.prefix === undefined ? {} : { prefix: from.prefix };
  if (from.secretRef !== undefined && from.configMapRef === undefined) {
    const { name, optional } = from.secretRef;
    return {
      ...prefix,
      source: { kind: 'Secret', name: name ?? '', ...(optional === undefined ? {} : { optional }) },
    };
  }
  if (from.configMapRef !== undefined && from.secretRef === undefined) {
    const { name, optional } = from.configMapRef;
    return {
      ...prefix,
      source: { kind: 'ConfigMap', name: name ?? '', ...(optional === undefined ? {} : { optional }) },
    };
  }
  return undefined;
}

const SUPPORTED_FIELD =
  /^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(podIP|hostIP))$/;

/** The pod fields a fieldRef reads, from a V1Pod. */
export function podFieldsOf(pod: V1Pod): PodFields | undefined {
  const { name, namespace, uid } = pod.metadata ?? {};
  if (name === undefined || namespace === undefined || uid === undefined) return undefined;
  return {
    name,
    namespace,
    uid,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    ...(pod.spec?.nodeName === undefined ? {} : { nodeName: pod.spec.nodeName }),
    ...(pod.spec?.serviceAccountName === undefined
      ? {}
      : { serviceAccountName: pod.spec.serviceAccountName }),
    ...(pod.status?.podIP === undefined ? {} : { podIP: pod.status.podIP }),
    ...(pod.status?.hostIP === undefined ? {} : { hostIP: pod.status.hostIP }),
  };
}

/** The pod fields a fieldRef reads, from the reconciler's view; `podIP` when known (the VPN address). */
export function podFields(
  view: Omit<PodFields, 'podIP' | 'hostIP'> & { status?: { podIP?: string; hostIP?: string } | undefined },
  podIP?: string,
): PodFields {
  const ip = podIP ?? view.status?.podIP;
  return {
    name: view.name,
    namespace: view.namespace,
    uid: view.uid,
    labels: view.labels,
    annotations: view.annotations,
    ...(view.nodeName === undefined ? {} : { nodeName: view.nodeName }),
    ...(view.serviceAccountName === undefined ? {} : { serviceAccountName: view.serviceAccountName }),
    ...(ip === undefined ? {} : { podIP: ip }),
    ...(view.status?.hostIP === undefined ? {} : { hostIP: view.status.hostIP }),
  };
}

/** The names of the Secrets and ConfigMaps the environment reads (for RBAC and the pre-rent check). */
export function envSources(spec: {
  env: readonly EnvVarSpec[];
  envFrom: readonly EnvFromSpec[];
}): { kind: 'Secret' | 'ConfigMap'; name: string }[] {
  const out = new Map<string, { kind: 'Secret' | 'ConfigMap'; name: string }>();
  for (const from of spec.envFrom) out.set(`${from.source.kind}/${from.source.name}`, from.source);
  for (const v of spec.env) {
    if ('secretKeyRef' in v)
      out.set(`Secret/${v.secretKeyRef.name}`, { kind: 'Secret', name: v.secretKeyRef.name });
    if ('configMapKeyRef' in v)
      out.set(`ConfigMap/${v.configMapKeyRef.name}`, { kind: 'ConfigMap', name: v.configMapKeyRef.name });
  }
  return [...out.values()].map(({ kind, name }) => ({ kind, name }));
}

/**
 * Builds the environment. A missing Secret or ConfigMap, or a missing key, fails unless the
 * reference is optional — kubelet's words, with names only.
 */
export async function resolveEnv(
  spec: { env: readonly EnvVarSpec[]; envFrom: readonly EnvFromSpec[] },
  fields: PodFields,
  resources: ContainerResources,
  read: SourceReader,
): Promise<EnvOutcome> {
  const cache = new Map<string, Promise<Record<string, string> | undefined>>();
  const source = (kind: 'Secret' | 'ConfigMap', name: string) => {
    const key = `${kind}/${name}`;
    let data = cache.get(key);
    if (data === undefined) {
      data = read(kind, name);
      cache.set(key, data);
    }
    return data;
  };
  const env: Record<string, string> = {};
  const where = (kind: string, name: string) => `${kind === 'Secret' ? 'secret' : 'configmap'} "${name}"`;
  for (const from of spec.envFrom) {
    const data = await source(from.source.kind, from.source.name);
    if (data === undefined) {
      if (from.source.optional === true) continue;
      return { ok: false, message: `${where(from.source.kind, from.source.name)} not found` };
    }
    for (const [key, value] of Object.entries(data)) env[`${from.prefix ?? ''}${key}`] = value;
  }
  for (const variable of spec.env) {
    const value = await variableValue(variable, env, fields, resources, source);
    if (typeof value === 'object') return value;
    if (value !== undefined) env[variable.name] = value;
  }
  return { ok: true, env };
}

async function variableValue(
  variable: EnvVarSpec,
  env: Readonly<Record<string, string>>,
  fields: PodFields,
  resources: ContainerResources,
  source: SourceReader,
): Promise<string | undefined | { ok: false; message: string }> {
  if ('value' in variable) return expand(variable.value, env);
  if ('fieldRef' in variable) return fieldValue(variable.fieldRef.fieldPath, fields);
  if ('resourceFieldRef' in variable) {
    const value = resourceValue(variable.resourceFieldRef, resources);
    return (
      value ?? {
        ok: false,
        message: `resourceFieldRef ${variable.resourceFieldRef.resource}: cannot be read`,
      }
    );
  }
  const [kind, ref] =
    'secretKeyRef' in variable
      ? (['Secret', variable.secretKeyRef] as const)
      : (['ConfigMap', variable.configMapKeyRef] as const);
  const data = await source(kind, ref.name);
  const label = kind === 'Secret' ? 'secret' : 'configmap';
  if (data === undefined)
    return ref.optional === true ? undefined : { ok: false, message: `${label} "${ref.name}" not found` };
  const value = data[ref.key];
  if (value === undefined)
    return ref.optional === true
      ? undefined
      : { ok: false, message: `couldn't find key ${ref.key} in ${kind} ${fields.namespace}/${ref.name}` };
  return value;
}

export function fieldValue(path: string, fields: PodFields): string {
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (keyed !== null) {
    const map = keyed[1] === 'labels' ? fields.labels : fields.annotations;
    return map[keyed[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return fields.name;
    case 'metadata.namespace':
      return fields.namespace;
    case 'metadata.uid':
      return fields.uid;
    case 'spec.nodeName':
      return fields.nodeName ?? '';
    case 'spec.serviceAccountName':
      return fields.serviceAccountName ?? '';
    case 'status.podIP':
      return fields.podIP ?? '';
    case 'status.hostIP':
      return fields.hostIP ?? '';
  }
  return '';
}

/**
 * resourceFieldRef as kubelet computes it (pkg/api/v1/resource ExtractContainerResourceValue):
 * the value divided by the divisor, rounded up; cpu defaults its divisor to 1 (cores), memory
 * and storage to 1 (bytes). An unset limit reads as the request (the node's allocatable in
 * kubelet; anex has none to give, so the request, else 0).
 */
export function resourceValue(
  ref: { resource: string; divisor?: string },
  resources: ContainerResources,
): string | undefined {
  const [scope, name] = ref.resource.split('.', 2) as [string, string | undefined];
  if (name === undefined || (scope !== 'limits' && scope !== 'requests')) return undefined;
  const raw =
    scope === 'limits'
      ? (resources.limits?.[name] ?? resources.requests?.[name])
      : (resources.requests?.[name] ?? resources.limits?.[name]);
  const value = raw === undefined ? 0 : quantity(raw);
  const divisor = quantity(ref.divisor ?? '1');
  if (value === undefined || divisor === undefined || divisor === 0) return undefined;
  return String(Math.ceil(value / divisor - 1e-9));
}

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity (`500m`, `2Gi`, `1e3`) as a number; undefined when malformed. */
export function quantity(text: string): number | undefined {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(
    text.trim(),
  );
  if (match === null) return undefined;
  return Number(match[1]) * (SUFFIX[match[2] ?? ''] ?? 1);
}

/**
 * `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/golang/expansion): `$(NAME)` of a
 * defined variable becomes its value, `$$` a literal `$`, anything else stays as written.
 */
export function expand(input: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const end = input.indexOf(')', i + 2);
      if (end !== -1) {
        const name = input.slice(i + 2, end);
        const value = env[name];
        out += value ?? `$(${name})`;
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}
