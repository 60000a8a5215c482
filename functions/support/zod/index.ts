// The `zod` entry for Lambda bundles: zod's own index, over ./classic.ts (no locales).
import * as z from './classic.ts';

export * from './classic.ts';
export { z, z as default };
