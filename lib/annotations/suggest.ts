import { gpuKey } from '../offers/gpu-names.ts';

/** Levenshtein distance (insert, delete, substitute cost 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function prefixOf(key: string): string {
  return key.slice(0, key.indexOf('/') + 1);
}

function nameOf(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

/**
 * The closest candidate to an unknown key, or undefined when nothing is close enough.
 * Names (after the prefix) are compared, and a different prefix costs 1, so
 * `anex.sh/verified-only` suggests `vastai.anex.sh/verified-only`. "Close enough" is at most
 * a third of the name's length (at least 2 edits), which catches typos but not new words.
 */
export function suggest(unknown: string, candidates: readonly string[]): string | undefined {
  const name = nameOf(unknown);
  const prefix = prefixOf(unknown);
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const score = editDistance(name, nameOf(candidate)) + (prefixOf(candidate) === prefix ? 0 : 1);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** The closest plain value (e.g. a region) to a wrong one, same threshold as {@link suggest}. */
export function suggestValue(wrong: string, values: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const value of values) {
    const score = editDistance(wrong.toLowerCase(), value.toLowerCase());
    if (score < bestScore) {
      best = value;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(wrong.length / 3)) ? best : undefined;
}

/**
 * The known GPU name closest to an unknown one, compared by folded key ({@link gpuKey}): the
 * shortest name whose key contains it ("A6000" → "RTX A6000", "4090" → "RTX 4090"), else the
 * fewest edits within the same threshold as {@link suggest} (ties: the shorter name);
 * undefined when nothing is close.
 */
export function suggestGpuName(unknown: string, names: readonly string[]): string | undefined {
  const key = gpuKey(unknown);
  if (key === '') return undefined;
  const containing = names.filter((name) => gpuKey(name).includes(key));
  if (containing.length > 0) return containing.sort((a, b) => a.length - b.length || a.localeCompare(b))[0];
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const score = editDistance(key, gpuKey(name));
    if (score < bestScore || (score === bestScore && name.length < (best?.length ?? 0))) {
      best = name;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
