import { Option } from 'clipanion';
import { listVerb } from './light-verbs.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime list`: runc's table, or --format json. */
export class RuntimeListCommand extends RuntimeCommand {
  static paths = [['runtime', 'list']];
  static usage = RuntimeCommand.Usage({
    description: 'list containers',
    examples: [['List', 'hutch runtime list --format json']],
  });
  format = Option.String('-f,--format', 'table', { description: 'table or json' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'ids only' });

  async run(): Promise<number> {
    return listVerb(this, this.context.stdout);
  }
}
