// Moved to lib/local/control-plane/args.ts (shared with `anex demo`).
export {
  apiserverArgs,
  type ControlPlanePorts,
  controllerManagerArgs,
  etcdArgs,
  NODE_MONITOR,
  schedulerArgs,
} from '../../lib/local/control-plane/args.ts';
