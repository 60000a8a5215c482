import type { Command } from 'commander';
import { registerManifests } from './manifests.ts';
import { registerOffers } from './offers.ts';

/**
 * Every `anex` subcommand registers itself here, one line each, so commands stay in their
 * own files (lib/cli/commands/<name>.ts) and a change to one never touches another.
 */
export function registerCommands(program: Command): void {
  registerOffers(program);
  registerManifests(program);
  program
    .command('demo')
    .description(
      'Start a local control plane, simulated marketplace and reconciler, and run the seed example pod',
    )
    .action(() => {
      process.stderr.write('anex demo is not yet available: it lands with the reconciler and local mode.\n');
      process.exitCode = 1;
    });
}
