import { rangeKey } from './keys.ts';
import type { NumericConstraint, VersionConstraint } from './requirements.ts';
import { compareVersions, type NumberForm, parseNumber, parseVersion } from './values.ts';

/** Where a family's findings go. */
export interface Findings {
  errors: string[];
  notes: string[];
}

type Annotations = Readonly<Record<string, string>>;

/** "anex.sh/vram is set: anex.sh/vram-min and anex.sh/vram-max are ignored" when applicable. */
function noteIgnoredBounds(annotations: Annotations, key: string, notes: string[]): void {
  const ignored = (['min', 'max'] as const)
    .map((b) => rangeKey(key, b))
    .filter((k) => annotations[k] !== undefined);
  if (ignored.length > 0) {
    notes.push(`${key} is set: ${ignored.join(' and ')} ${ignored.length === 1 ? 'is' : 'are'} ignored`);
  }
}

/**
 * A numeric family (`key`, `key-min`, `key-max`) → constraint. Every value present is
 * validated, even an ignored bound (a typo there is still a typo); the exact value wins over
 * the range (seed rule); min > max is an error.
 */
export function parseNumericFamily(
  annotations: Annotations,
  key: string,
  form: NumberForm,
  findings: Findings,
): NumericConstraint | undefined {
  return parseFamily(annotations, key, findings, {
    parse: (k, raw) => parseNumber(k, raw, form, findings.errors),
    compare: (a, b) => a - b,
  });
}

/** The CUDA family, compared as versions (12.10 > 12.9), same rules as the numeric ones. */
export function parseVersionFamily(
  annotations: Annotations,
  key: string,
  findings: Findings,
): VersionConstraint | undefined {
  return parseFamily(annotations, key, findings, {
    parse: (k, raw) => parseVersion(k, raw, findings.errors),
    compare: compareVersions,
  });
}

/** The family rules for any value type: `parse` reports its own errors, `compare` orders values. */
function parseFamily<T>(
  annotations: Annotations,
  key: string,
  findings: Findings,
  value: { parse: (key: string, raw: string) => T | undefined; compare: (a: T, b: T) => number },
): { exact: T } | { min?: T; max?: T } | undefined {
  const read = (k: string): T | undefined => {
    const raw = annotations[k];
    return raw === undefined ? undefined : value.parse(k, raw);
  };
  const exact = read(key);
  const min = read(rangeKey(key, 'min'));
  const max = read(rangeKey(key, 'max'));
  if (annotations[key] !== undefined) {
    noteIgnoredBounds(annotations, key, findings.notes);
    return exact === undefined ? undefined : { exact };
  }
  if (min !== undefined && max !== undefined && value.compare(min, max) > 0) {
    findings.errors.push(
      `${rangeKey(key, 'min')}: "${annotations[rangeKey(key, 'min')]}" is greater than ${rangeKey(key, 'max')} "${annotations[rangeKey(key, 'max')]}"; no offer can match`,
    );
    return undefined;
  }
  if (min === undefined && max === undefined) return undefined;
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}
