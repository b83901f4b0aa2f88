import { Option } from 'clipanion';
import { stateVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime state`: the runtime spec's state JSON. */
export class RuntimeStateCommand extends RuntimeCommand {
  static paths = [['runtime', 'state']];
  static usage = RuntimeCommand.Usage({
    description: 'print the state of a container (runtime-spec JSON)',
    examples: [['State', 'hutch runtime state c1']],
  });
  id = Option.String();

  async run(): Promise<number> {
    return stateVerb(this, this.context.stdout);
  }
}
