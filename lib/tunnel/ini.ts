/**
 * Helpers for wireproxy's INI dialect (go-ini, case-insensitive, repeatable sections).
 * go-ini treats `#` and `;` as the start of an inline comment even mid-value, and a newline
 * would start a new key, so every value we write is checked against those characters rather
 * than escaped (wireproxy has no escaping).
 */

const UNSAFE = /[#;\r\n\0]/;

export function unsafeIniValue(value: string): boolean {
  return UNSAFE.test(value) || value.trim() !== value;
}

export interface IniSection {
  name: string;
  entries: readonly (readonly [key: string, value: string | number | undefined])[];
}

/** Renders sections in order; entries whose value is undefined are left out. */
export function renderIni(sections: readonly IniSection[]): string {
  return sections
    .map((section) => {
      const lines = section.entries
        .filter((entry): entry is readonly [string, string | number] => entry[1] !== undefined)
        .map(([key, value]) => `${key} = ${value}`);
      return [`[${section.name}]`, ...lines].join('\n');
    })
    .join('\n\n')
    .concat('\n');
}

/** Collects the issues of values that would be cut or split by the INI parser. */
export function iniValueIssues(values: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(values)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && unsafeIniValue(entry[1]))
    .map(
      ([name, value]) =>
        `${name}: ${JSON.stringify(value)} contains '#', ';', a line break or outer spaces, which wireproxy's config parser cuts off`,
    );
}
