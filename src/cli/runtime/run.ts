import { Option } from 'clipanion';
import * as t from 'typanion';
import { ociCreate, ociStart } from '../../engine/oci.js';
import { ociRunForeground } from '../../engine/oci-run.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime run`: create and start; without --detach, wait and exit with the status. */
export class RuntimeRunCommand extends RuntimeCommand {
  static paths = [['runtime', 'run']];
  static usage = RuntimeCommand.Usage({ description: 'create and start a container from a bundle', examples: [['Run', 'hutch runtime run --bundle ./bundle c1']] });
  bundle = Option.String('-b,--bundle', '.', { description: 'the bundle directory' });
  pidFile = Option.String('--pid-file', { description: 'write the container process pid here' });
  consoleSocket = Option.String('--console-socket', { description: 'unix socket that receives the pty master' });
  detach = Option.Boolean('-d,--detach', false, { description: 'return once started' });
  preserveFds = Option.String('--preserve-fds', '0', { validator: t.isNumber(), description: 'pass fds 3 to 2+N on to the container process' });
  noPivot = Option.Boolean('--no-pivot', false, { description: 'accepted for runc compatibility' });
  noNewKeyring = Option.Boolean('--no-new-keyring', false, { description: 'accepted for runc compatibility' });
  id = Option.String();

  async run(): Promise<number> {
    if (!this.detach) return ociRunForeground(this.root(), this.id, this.bundle, { pidFile: this.pidFile, consoleSocket: this.consoleSocket, preserveFds: this.preserveFds });
    await ociCreate(this.root(), this.id, { bundle: this.bundle, pidFile: this.pidFile, consoleSocket: this.consoleSocket, preserveFds: this.preserveFds });
    await ociStart(this.root(), this.id);
    return 0;
  }
}
