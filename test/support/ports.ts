// Moved to lib/local/control-plane (shared with `anex demo`).
export { freePort, freePorts } from '../../lib/local/control-plane/ports.ts';
