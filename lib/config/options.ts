import { type Command, Option } from 'commander';
import { SETTINGS, type Setting } from './settings.ts';

/**
 * Adds every configuration flag to a command (`anex run`), with its variable and default in
 * the help, so `--help` documents the same settings the functions read from ANEX_*. Values
 * stay strings: {@link configFromFlags} validates them all at once, naming each bad flag.
 */
export function addConfigOptions(command: Command): Command {
  for (const s of SETTINGS as readonly Setting[]) {
    if (s.flag === undefined) continue;
    const option = new Option(`${s.flag} <value>`, `${s.description} (${s.form}; env ${s.env})`);
    if (s.default !== undefined) option.default(undefined, s.default);
    command.addOption(option);
  }
  return command;
}
