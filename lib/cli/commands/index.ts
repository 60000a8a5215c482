import type { Command } from 'commander';
import { registerBans } from './bans.ts';
import { registerDemo } from './demo.ts';
import { registerExplain } from './explain.ts';
import { registerManifests } from './manifests.ts';
import { registerOffers } from './offers.ts';
import { registerRun } from './run.ts';
import { registerSelftest } from './selftest.ts';
import { registerSim } from './sim.ts';
import { registerStatus } from './status.ts';
import { registerTunnel } from './tunnel.ts';

/**
 * Every `anex` subcommand registers itself here, one line each, so commands stay in their
 * own files (lib/cli/commands/<name>.ts) and a change to one never touches another.
 */
export function registerCommands(program: Command): void {
  registerOffers(program);
  registerManifests(program);
  registerRun(program);
  registerSim(program);
  registerDemo(program);
  registerExplain(program);
  registerBans(program);
  registerStatus(program);
  registerTunnel(program);
  registerSelftest(program);
}
