import { BugError, HutchError } from '../errors.js';

// Its own file: the sandbox entry (sandbox-main.ts) renders errors without loading clipanion.
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
