import { Option } from 'clipanion';
import { psVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime ps`: the container's processes (--format json: their pids). */
export class RuntimePsCommand extends RuntimeCommand {
  static paths = [['runtime', 'ps']];
  static usage = RuntimeCommand.Usage({
    description: 'list the processes of a container',
    examples: [['Pids', 'hutch runtime ps --format json c1']],
  });
  format = Option.String('-f,--format', 'table', { description: 'table or json' });
  id = Option.String();

  async run(): Promise<number> {
    return psVerb(this, this.context.stdout);
  }
}
