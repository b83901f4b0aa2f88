import { Option } from 'clipanion';
import { ociCreate, ociStart } from '../../engine/oci/lifecycle.js';
import { ociRunForeground } from '../../engine/oci/exec.js';
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
    if (!this.detach)
      return ociRunForeground(this.root(), this.id, this.bundle, {
        pidFile: this.pidFile,
        consoleSocket: this.consoleSocket,
        preserveFds: this.preserveFds,
      });
    await ociCreate(this.root(), this.id, this.createOptions());
    await ociStart(this.root(), this.id);
    return 0;
  }
}
