import type { Command } from 'commander';
import type { LocalStoreOptions } from '../../local/local-store.ts';
import { defaultDataDir } from '../../local/paths.ts';

export interface StoreCliOptions {
  dataDir: string;
  table?: string;
  endpoint?: string;
}

/** The state options shared by commands that read or write it (same meaning as `anex run`'s). */
export function addStoreOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', "anex run's data dir (its embedded store)", defaultDataDir())
    .option('--table <name>', 'a DynamoDB table instead (AWS credentials from the environment)')
    .option('--endpoint <url>', 'DynamoDB-compatible endpoint for --table');
}

export function storeOptions(options: StoreCliOptions): LocalStoreOptions {
  if (options.endpoint !== undefined || options.table !== undefined) {
    return {
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.table === undefined ? {} : { table: options.table }),
    };
  }
  return { dataDir: options.dataDir };
}
