import { Option } from 'clipanion';
import { deleteVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime delete [--force]`: a running container only with --force. */
export class RuntimeDeleteCommand extends RuntimeCommand {
  static paths = [['runtime', 'delete']];
  static usage = RuntimeCommand.Usage({
    description: 'delete a container and run its poststop hooks',
    examples: [['Delete', 'hutch runtime delete --force c1']],
  });
  force = Option.Boolean('-f,--force', false, { description: 'kill a running container first' });
  id = Option.String();

  async run(): Promise<number> {
    return deleteVerb(this);
  }
}
