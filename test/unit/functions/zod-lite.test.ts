import { describe, expect, it } from 'vitest';
import * as zod from 'zod';
import * as lite from '../../../functions/support/zod/index.ts';

/**
 * The Lambda bundles alias `zod` to functions/support/zod (zod minus its locales). If a zod
 * upgrade adds or moves an export, these fail before a bundle ships without it.
 */
describe('zod for Lambda bundles', () => {
  const withoutLocales = (keys: string[]) => keys.filter((k) => k !== 'locales').sort();

  it('exports everything zod exports, except the locales', () => {
    expect(Object.keys(lite.z).sort()).toEqual(withoutLocales(Object.keys(zod.z)));
    expect(Object.keys(lite).sort()).toEqual(withoutLocales(Object.keys(zod)));
    expect(Object.keys(lite.z.core).sort()).toEqual(withoutLocales(Object.keys(zod.z.core)));
  });

  it('is the same zod (same classes, English messages)', () => {
    expect(lite.z.ZodObject).toBe(zod.z.ZodObject);
    const result = lite.z.object({ name: lite.z.string() }).safeParse({ name: 1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(zod.z.string().safeParse(1).error?.issues[0]?.message);
  });
});
