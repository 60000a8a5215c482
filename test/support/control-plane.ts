// Moved to lib/local/control-plane (shared with `anex demo`).
import {
  type ControlPlane,
  type StartControlPlaneOptions,
  startControlPlane as startLocal,
} from '../../lib/local/control-plane/control-plane.ts';
import { asTestGroundError } from './as-test-ground-error.ts';

export type {
  ControlPlane,
  ControlPlaneInfo,
  StartControlPlaneOptions,
} from '../../lib/local/control-plane/control-plane.ts';

/** Starts the test control plane; failure is a TestGroundError naming the component. */
export function startControlPlane(options: StartControlPlaneOptions): Promise<ControlPlane> {
  return asTestGroundError(() => startLocal(options));
}
