// Moved to lib/local/control-plane (shared with `anex demo`).
import { type ControlPlanePki, generatePki as generateLocal } from '../../lib/local/control-plane/certs.ts';
import { asTestGroundError } from './as-test-ground-error.ts';

export { ADMIN_USER, type ControlPlanePki } from '../../lib/local/control-plane/certs.ts';

export function generatePki(dir: string): Promise<ControlPlanePki> {
  return asTestGroundError(() => generateLocal(dir));
}
