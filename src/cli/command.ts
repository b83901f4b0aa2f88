import { Command } from 'clipanion';
import { renderError } from './render-error.js';

export { renderError } from './render-error.js';

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
