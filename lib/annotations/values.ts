/**
 * Parsers for single annotation values. Each returns the parsed value, or pushes one message
 * naming the annotation, the value and the accepted form (STYLE.md "Errors" 5) and returns
 * undefined, so a pod's every problem is reported at once.
 */

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const VERSION = /^(\d+)\.(\d+)$/;
const COMPUTE_CAP = /^(\d+)\.(\d)$/;

export interface NumberForm {
  /** completes `"<value>" is not …`, e.g. `a number of megabytes (e.g. "20480")` */
  form: string;
  integer: boolean;
  least: number;
}

export function parseNumber(
  key: string,
  raw: string,
  spec: NumberForm,
  errors: string[],
): number | undefined {
  const text = raw.trim();
  const value = NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || (spec.integer && !Number.isInteger(value))) {
    errors.push(`${key}: ${JSON.stringify(raw)} is not ${spec.form}`);
    return undefined;
  }
  if (value < 0) {
    errors.push(`${key}: ${JSON.stringify(raw)} is negative; expected ${spec.form}`);
    return undefined;
  }
  if (value < spec.least) {
    errors.push(`${key}: ${JSON.stringify(raw)} is less than ${spec.least}; expected ${spec.form}`);
    return undefined;
  }
  return value;
}

/** "major.minor" → [major, minor]; "12.10" → [12, 10]. */
export function versionParts(version: string): readonly [number, number] | undefined {
  const match = VERSION.exec(version);
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2])];
}

/** Orders versions by (major, minor) as numbers: compareVersions("12.10", "12.9") > 0. */
export function compareVersions(a: string, b: string): number {
  const [aMajor, aMinor] = versionParts(a) ?? [0, 0];
  const [bMajor, bMinor] = versionParts(b) ?? [0, 0];
  return aMajor === bMajor ? aMinor - bMinor : aMajor - bMajor;
}

/** A CUDA version "major.minor", normalized ("12.04" → "12.4"). */
export function parseVersion(key: string, raw: string, errors: string[]): string | undefined {
  const parts = versionParts(raw.trim());
  if (parts === undefined) {
    errors.push(`${key}: ${JSON.stringify(raw)} is not a CUDA version major.minor (e.g. "12.4")`);
    return undefined;
  }
  return `${parts[0]}.${parts[1]}`;
}

/** A compute capability "8.6". */
export function parseComputeCap(key: string, raw: string, errors: string[]): string | undefined {
  const match = COMPUTE_CAP.exec(raw);
  if (match === null) {
    errors.push(`${key}: ${JSON.stringify(raw)} is not a compute capability major.minor (e.g. "8.6")`);
    return undefined;
  }
  return `${Number(match[1])}.${match[2]}`;
}

/** Exactly "true" or "false". */
export function parseBoolean(key: string, raw: string, errors: string[]): boolean | undefined {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  errors.push(`${key}: ${JSON.stringify(raw)} is not a boolean; expected "true" or "false"`);
  return undefined;
}

/**
 * A comma list: items trimmed, empty items dropped, duplicates dropped (first kept, so a
 * priority order survives). An empty list is an error.
 */
export function parseList(key: string, raw: string, example: string, errors: string[]): string[] | undefined {
  const items: string[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item !== '' && !items.includes(item)) items.push(item);
  }
  if (items.length === 0) {
    errors.push(
      `${key}: ${JSON.stringify(raw)} is an empty list; expected comma-separated values (e.g. "${example}")`,
    );
    return undefined;
  }
  return items;
}
