import { Option } from 'clipanion';
import { killVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime kill ID [SIGNAL]` (default SIGTERM, as runc). */
export class RuntimeKillCommand extends RuntimeCommand {
  static paths = [['runtime', 'kill']];
  static usage = RuntimeCommand.Usage({
    description: 'send a signal to the container process',
    examples: [['Kill', 'hutch runtime kill c1 KILL']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'accepted for runc compatibility (PID 1 ending ends all)' });
  id = Option.String();
  signal = Option.String({ required: false });

  async run(): Promise<number> {
    return killVerb(this);
  }
}
