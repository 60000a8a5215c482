import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `anex run` keeps its state by default: `$XDG_DATA_HOME/anex` or `~/.local/share/anex`. */
export function defaultDataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'anex');
}
