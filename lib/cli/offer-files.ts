import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AnexError, InvalidInputError } from '../errors.ts';
import { normalizeRunPodCatalog } from '../offers/normalize/runpod.ts';
import { normalizeVastSearch } from '../offers/normalize/vastai.ts';
import { type Offer, PROVIDERS, type ProviderName } from '../offers/offer.ts';
import type { Ban } from '../state/store.ts';

/**
 * Files the `anex offers` command reads: the pod manifest, saved provider responses and a
 * bans list. Every failure names the file and says what was expected (exit code 2).
 */

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new InvalidInputError([`${what} ${file}: cannot read it (${reason})`], { cause: error });
  }
}

/** A YAML or JSON document (YAML is a superset of JSON). */
export async function readDocument(file: string, what: string): Promise<unknown> {
  const text = await readText(file, what);
  try {
    return parseYaml(text);
  } catch (error) {
    throw new InvalidInputError([`${what} ${file}: not valid YAML or JSON (${(error as Error).message})`], {
      cause: error,
    });
  }
}

/** What a saved response file is, told by its shape. */
export type SavedResponseKind = 'vastai-search' | 'runpod-gpus' | 'runpod-datacenters';

export function detectResponseKind(body: unknown): SavedResponseKind | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  if (Array.isArray((body as { offers?: unknown }).offers)) return 'vastai-search';
  if (Array.isArray((body as { gpus?: unknown }).gpus)) return 'runpod-gpus';
  if (Array.isArray((body as { dataCenters?: unknown }).dataCenters)) return 'runpod-datacenters';
  return undefined;
}

const PROVIDER_OF_KIND: Readonly<Record<SavedResponseKind, ProviderName>> = {
  'vastai-search': 'vastai',
  'runpod-gpus': 'runpod',
  'runpod-datacenters': 'runpod',
};

function toInvalid(error: unknown): never {
  if (error instanceof AnexError && error.kind === 'bad-response') {
    throw new InvalidInputError([error.message], { cause: error });
  }
  throw error;
}

/**
 * Saved responses → offers of `provider`. Vast: any number of search responses. RunPod: GPU
 * lists, plus optionally data-center lists (for regions), in any order.
 */
export async function readSavedOffers(files: readonly string[], provider: ProviderName): Promise<Offer[]> {
  const offers: Offer[] = [];
  const gpuLists: { file: string; body: unknown }[] = [];
  let dataCenters: unknown[] = [];
  for (const file of files) {
    const body = await readDocument(file, 'offers file');
    const kind = detectResponseKind(body);
    if (kind === undefined) {
      throw new InvalidInputError([
        `offers file ${file}: not a saved provider response; expected a Vast.AI search ({"offers":[…]}), a RunPod GPU list ({"gpus":[…]}) or a RunPod data-center list ({"dataCenters":[…]})`,
      ]);
    }
    if (PROVIDER_OF_KIND[kind] !== provider) {
      throw new InvalidInputError([
        `offers file ${file}: a ${kind} response, but the pod's provider is ${provider}`,
      ]);
    }
    if (kind === 'vastai-search')
      offers.push(...normalizeOrInvalid(() => normalizeVastSearch(body, `offers file ${file}`)));
    else if (kind === 'runpod-gpus') gpuLists.push({ file, body });
    else dataCenters = [...dataCenters, ...(body as { dataCenters: unknown[] }).dataCenters];
  }
  for (const { file, body } of gpuLists) {
    const catalog = { gpus: body, ...(dataCenters.length > 0 ? { dataCenters: { dataCenters } } : {}) };
    offers.push(...normalizeOrInvalid(() => normalizeRunPodCatalog(catalog, `offers file ${file}`)));
  }
  return offers;
}

function normalizeOrInvalid(normalize: () => Offer[]): Offer[] {
  try {
    return normalize();
  } catch (error) {
    return toInvalid(error);
  }
}

const rfc3339 = z.iso.datetime({ offset: true });
const banFileSchema = z.array(
  z.object({
    provider: z.enum(PROVIDERS),
    machineId: z.union([z.string().min(1), z.number().int()]).transform(String),
    expiresAt: rfc3339,
    reason: z.string().optional(),
    createdAt: rfc3339.optional(),
  }),
);

/** `[{"provider":"vastai","machineId":"30511","expiresAt":"<RFC3339>"}]` → Ban[]. */
export async function readBans(file: string): Promise<Ban[]> {
  const parsed = banFileSchema.safeParse(await readDocument(file, 'bans file'));
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `bans file ${file}: ${i.path.join('.') || '(root)'}: ${i.message}`,
    );
    throw new InvalidInputError([
      ...issues,
      `expected a JSON array of {"provider":"vastai","machineId":"30511","expiresAt":"2026-11-26T12:00:00Z"}`,
    ]);
  }
  return parsed.data.map((b) => ({
    provider: b.provider,
    machineId: b.machineId,
    expiresAt: Date.parse(b.expiresAt),
    reason: b.reason ?? 'from bans file',
    createdAt: b.createdAt === undefined ? 0 : Date.parse(b.createdAt),
  }));
}

/** `--now` as RFC 3339 → epoch ms. */
export function parseNow(value: string): number {
  if (!rfc3339.safeParse(value).success) {
    throw new InvalidInputError([
      `--now: ${JSON.stringify(value)} is not an RFC 3339 time (e.g. "2026-11-26T12:00:00Z")`,
    ]);
  }
  return Date.parse(value);
}
