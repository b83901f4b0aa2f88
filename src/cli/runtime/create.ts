import { Option } from 'clipanion';
import * as t from 'typanion';
import { ociCreate } from '../../engine/oci.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime create`: runc's create. */
export class RuntimeCreateCommand extends RuntimeCommand {
  static paths = [['runtime', 'create']];
  static usage = RuntimeCommand.Usage({ description: 'create a container from an OCI bundle; its process waits for `start`', examples: [['Create', 'hutch runtime create --bundle ./bundle --pid-file ./pid c1']] });
  bundle = Option.String('-b,--bundle', '.', { description: 'the bundle directory (config.json and the root filesystem)' });
  pidFile = Option.String('--pid-file', { description: 'write the container process pid here' });
  consoleSocket = Option.String('--console-socket', { description: 'unix socket that receives the pty master (process.terminal)' });
  noPivot = Option.Boolean('--no-pivot', false, { description: 'accepted for runc compatibility' });
  noNewKeyring = Option.Boolean('--no-new-keyring', false, { description: 'accepted (hutch creates no session keyring)' });
  preserveFds = Option.String('--preserve-fds', '0', { validator: t.isNumber(), description: 'pass fds 3 to 2+N on to the container process' });
  id = Option.String();

  async run(): Promise<number> {
    await ociCreate(this.root(), this.id, { bundle: this.bundle, pidFile: this.pidFile, consoleSocket: this.consoleSocket, preserveFds: this.preserveFds, systemdCgroup: this.systemdCgroup });
    return 0;
  }
}
