// Moved to lib/local/control-plane (shared with `anex demo`); build files in lib/local/control-plane/build/.
import {
  type ControlPlaneBinaries,
  ensureBinaries as ensureLocal,
} from '../../lib/local/control-plane/binaries.ts';
import { asTestGroundError } from './as-test-ground-error.ts';

export { type ControlPlaneBinaries, parseBuildOutput } from '../../lib/local/control-plane/binaries.ts';

/** Builds or reuses the control-plane binaries; failure is a TestGroundError naming the part. */
export function ensureBinaries(): Promise<ControlPlaneBinaries> {
  return asTestGroundError(() => ensureLocal());
}
