import { AnexError } from '../../errors.ts';
import type { Instance } from '../provider.ts';

/** One page of a vendor's instance list, already mapped to {@link Instance}. */
export interface InstancePage {
  instances: readonly Instance[];
  /** The cursor of the next page; unset on the last page. */
  next: string | undefined;
}

export interface TaggedListOptions {
  fetchPage: (cursor: string | undefined) => Promise<InstancePage>;
  /** Keep only this installation's instances; unset: every anex tag. */
  clusterId: string | undefined;
  /** The error message when the vendor hands back a cursor it already gave. */
  repeatedCursor: (cursor: string) => string;
}

/**
 * Walks every page and keeps the anex-tagged instances of this cluster. A repeated cursor is
 * thrown as `bad-response`: it would loop forever, and a partial list would let GC miss instances.
 */
export async function collectTagged(options: TaggedListOptions): Promise<Instance[]> {
  const { fetchPage, clusterId, repeatedCursor } = options;
  const found: Instance[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    for (const instance of page.instances) {
      if (instance.tag && (!clusterId || instance.tag.clusterId === clusterId)) found.push(instance);
    }
    if (page.next && seen.has(page.next)) {
      throw new AnexError(repeatedCursor(page.next), { kind: 'bad-response' });
    }
    if (page.next) seen.add(page.next);
    cursor = page.next;
  } while (cursor);
  return found;
}
