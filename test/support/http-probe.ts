// Moved to lib/local/control-plane (shared with `anex demo`).
export { type ProbeResult, type ProbeTls, probe } from '../../lib/local/control-plane/http-probe.ts';
