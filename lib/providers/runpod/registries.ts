import { createHash } from 'node:crypto';
import { AnexError } from '../../errors.ts';
import type { RegistryAuth } from '../../images/keyring.ts';
import type { CallOptions } from '../provider.ts';
import type { RunPodClient } from './client.ts';

/**
 * The RunPod registry credentials anex makes for private images (ADR 0016). RunPod pulls a
 * private image with the credential a pod's `registry` names (REST v2 `ContainerConfig.registry`,
 * "Container registry credential ID (for private images)"; made by `POST /v2/registries`
 * {name, username, password}). One credential per login — what the login is, not its value:
 *
 *   `anex.<cluster id>.registry.<digest>.<created, epoch seconds>`
 *
 * `<digest>`: 16 hex of SHA-256 over the cluster id and the login's identity (namespace, Secret
 * name, uid and resourceVersion, the matching config key — lib/images/keyring.ts), never the
 * password: pods sharing a login share its credential, and an edited Secret gets a new one.
 * The creation time in the name lets the sweep spare a credential a concurrent pass has just
 * made for a create it has not sent yet.
 */

/** A credential no pod names is kept this long after it was made (a pass may be about to use it). */
export const REGISTRY_GRACE_MS = 10 * 60_000;

const NAME = /^anex\.([a-z0-9-]{1,40})\.registry\.([0-9a-f]{16})\.(\d{1,12})$/;

export function registryDigest(clusterId: string, identity: string): string {
  return createHash('sha256').update(`${clusterId}\n${identity}`).digest('hex').slice(0, 16);
}

export function registryName(clusterId: string, identity: string, createdAtMs: number): string {
  return `anex.${clusterId}.registry.${registryDigest(clusterId, identity)}.${Math.floor(createdAtMs / 1000)}`;
}

/** The cluster, digest and creation time of a credential anex named; undefined for any other name. */
export function parseRegistryName(
  name: string,
): { clusterId: string; digest: string; createdAtMs: number } | undefined {
  const match = NAME.exec(name);
  if (match === null) return undefined;
  return { clusterId: match[1] as string, digest: match[2] as string, createdAtMs: Number(match[3]) * 1000 };
}

export class RunPodRegistries {
  readonly #client: RunPodClient;
  readonly #clusterId: string | undefined;
  readonly #now: () => number;
  /** credential id by digest, as made or found by this process */
  readonly #ids = new Map<string, string>();

  constructor(options: { client: RunPodClient; clusterId: string | undefined; now: () => number }) {
    this.#client = options.client;
    this.#clusterId = options.clusterId;
    this.#now = options.now;
  }

  /**
   * The id of the credential for `auth`: the one this process knows, else one found by name in
   * the account (the oldest, when two passes made one at once), else a new one. A create that
   * collides with a concurrent one (the name is taken) looks again.
   */
  async idFor(auth: RegistryAuth, call: CallOptions): Promise<string> {
    const cluster = this.#clusterId ?? 'anex';
    const digest = registryDigest(cluster, auth.identity);
    const known = this.#ids.get(digest) ?? (await this.#find(cluster, digest, call));
    if (known !== undefined) return this.#remember(digest, known);
    const name = registryName(cluster, auth.identity, this.#now());
    const made = await this.#client.createRegistry(
      { name, username: auth.username, password: auth.password },
      call,
    );
    if (made.kind === 'created') return this.#remember(digest, made.id);
    const found = await this.#find(cluster, digest, call);
    if (found === undefined) throw made.error;
    return this.#remember(digest, found);
  }

  /** The id known for `auth` is gone (a create named it and RunPod did not know it). */
  forget(auth: RegistryAuth): void {
    this.#ids.delete(registryDigest(this.#clusterId ?? 'anex', auth.identity));
  }

  /**
   * Deletes this cluster's credentials that no pod of the account names (`registry` in
   * `GET /v2/pods`) and that are older than {@link REGISTRY_GRACE_MS}. Credentials of other
   * clusters and of users are never touched; "in use" (400) and gone (404) are left. Without a
   * cluster id nothing is swept. @returns how many were deleted.
   */
  async sweep(call: CallOptions): Promise<number> {
    const cluster = this.#clusterId;
    if (cluster === undefined) return 0;
    const cutoff = this.#now() - REGISTRY_GRACE_MS;
    const stale = (await this.#client.listRegistries(call)).filter((r) => {
      const parsed = parseRegistryName(r.name);
      return parsed?.clusterId === cluster && parsed.createdAtMs < cutoff;
    });
    if (stale.length === 0) return 0;
    const named = await this.#namedByPods(call);
    let deleted = 0;
    for (const registry of stale) {
      if (named.has(registry.id)) continue;
      if ((await this.#client.deleteRegistry(registry.id, call)) === 'deleted') deleted += 1;
      for (const [digest, id] of this.#ids) if (id === registry.id) this.#ids.delete(digest);
    }
    return deleted;
  }

  async #find(cluster: string, digest: string, call: CallOptions): Promise<string | undefined> {
    const ours = (await this.#client.listRegistries(call))
      .map((r) => ({ id: r.id, parsed: parseRegistryName(r.name) }))
      .filter((r) => r.parsed?.clusterId === cluster && r.parsed.digest === digest)
      .sort((a, b) => (a.parsed?.createdAtMs ?? 0) - (b.parsed?.createdAtMs ?? 0));
    return ours[0]?.id;
  }

  /** Every credential id a pod of the account names, across all pages (any pod, not only ours). */
  async #namedByPods(call: CallOptions): Promise<Set<string>> {
    const named = new Set<string>();
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.#client.listPodsPage(cursor, call);
      for (const pod of page.pods) if (typeof pod.registry === 'string') named.add(pod.registry);
      // An incomplete list could miss a pod that names a credential: no sweep on it.
      if (page.nextCursor !== undefined && seen.has(page.nextCursor))
        throw new AnexError(`runpod GET /v2/pods repeated cursor ${page.nextCursor}`, {
          kind: 'unavailable',
        });
      if (page.nextCursor !== undefined) seen.add(page.nextCursor);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return named;
  }

  #remember(digest: string, id: string): string {
    if (this.#ids.size >= 256) this.#ids.clear();
    this.#ids.set(digest, id);
    return id;
  }
}
