import type { ControlPlaneInfo } from './control-plane.ts';
import type { DynamoInfo } from './dynamo.ts';

// What test/support/global-setup.ts hands to the tests of the `integration` project
// through vitest's provide/inject (values are serialized, hence plain data).
declare module 'vitest' {
  export interface ProvidedContext {
    anexControlPlane: ControlPlaneInfo;
    anexDynamo: DynamoInfo;
  }
}

export type { ControlPlaneInfo, DynamoInfo };
