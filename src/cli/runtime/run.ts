import { Option } from 'clipanion';
import { runVerb } from './bundle-verbs.js';
import { BundleCommand, RuntimeCommand } from './base.js';

/** `hutch runtime run`: create and start; without --detach, wait and exit with the status. */
export class RuntimeRunCommand extends BundleCommand {
  static paths = [['runtime', 'run']];
  static usage = RuntimeCommand.Usage({
    description: 'create and start a container from a bundle',
    examples: [['Run', 'hutch runtime run --bundle ./bundle c1']],
  });
  detach = Option.Boolean('-d,--detach', false, { description: 'return once started' });

  async run(): Promise<number> {
    return runVerb(this);
  }
}
