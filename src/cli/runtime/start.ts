import { Option } from 'clipanion';
import { startVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime start`: the created process execs. */
export class RuntimeStartCommand extends RuntimeCommand {
  static paths = [['runtime', 'start']];
  static usage = RuntimeCommand.Usage({
    description: 'start a created container',
    examples: [['Start', 'hutch runtime start c1']],
  });
  id = Option.String();

  async run(): Promise<number> {
    return startVerb(this);
  }
}
