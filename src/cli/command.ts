import { Command } from 'clipanion';
import { BugError, HutchError } from '../errors.js';

/**
 * Base of every hutch command: subclasses implement `run()`, returning the exit status.
 * Errors are rendered here (clipanion would print them to stdout and exit 1): `hutch: <message>`
 * then `hint: …` on stderr, and the error's exit code (125 unless it says otherwise).
 */
export abstract class HutchCommand extends Command {
  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (error) {
      return renderError(error, this.context.stderr);
    }
  }
}

/** Writes an error as the CLI shows it and returns the exit status it calls for. */
export function renderError(error: unknown, stderr: NodeJS.WritableStream): number {
  if (error instanceof BugError || !(error instanceof HutchError)) {
    const stack = error instanceof Error ? error.stack : String(error);
    stderr.write(`hutch: internal error: ${stack}\n`);
    stderr.write('hint: this is a bug in hutch; please report it with the output above\n');
    return 125;
  }
  stderr.write(`hutch: ${error.message}\n`);
  if (error.hint !== undefined) stderr.write(`hint: ${error.hint}\n`);
  if (process.env.HUTCH_DEBUG && error.cause !== undefined) stderr.write(`cause: ${String(error.cause)}\n`);
  return error.exitCode;
}
