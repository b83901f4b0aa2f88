import { createVerb } from './bundle-verbs.js';
import { BundleCommand, RuntimeCommand } from './base.js';

/** `hutch runtime create`: runc's create. */
export class RuntimeCreateCommand extends BundleCommand {
  static paths = [['runtime', 'create']];
  static usage = RuntimeCommand.Usage({
    description: 'create a container from an OCI bundle; its process waits for `start`',
    examples: [['Create', 'hutch runtime create --bundle ./bundle --pid-file ./pid c1']],
  });

  async run(): Promise<number> {
    return createVerb(this);
  }
}
