import { Command, CommanderError } from 'commander';
import { isAnexError } from '../errors.ts';
import { registerCommands } from './commands/index.ts';

/**
 * Exit codes (documented in `anex --help` and the README):
 * 0 success · 1 failure (a dependency failed, an unexpected error) · 2 bad input (flags,
 * files, annotations) · 130 interrupted.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export function buildProgram(): Command {
  const program = new Command('anex')
    .description('Run Kubernetes pods on marketplace GPUs (Vast.AI, RunPod).')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failure, 2 invalid input (flags, files, annotations), 130 interrupted.',
    )
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI and returns the exit code; never calls process.exit itself. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version arrive here with exitCode 0; usage errors were already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isAnexError(error)) {
      process.stderr.write(`anex: ${error.message}\n`);
      return error.kind === 'invalid-input' ? EXIT.usage : EXIT.failure;
    }
    process.stderr.write(
      `anex: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT.failure;
  }
}
