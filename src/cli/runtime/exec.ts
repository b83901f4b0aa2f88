import { Option } from 'clipanion';
import { execVerb } from './bundle-verbs.js';
import { preserveFdsOption } from '../options/preserve-fds.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime exec`: runc exec's flags (podman passes --process, --detach, --pid-file). */
export class RuntimeExecCommand extends RuntimeCommand {
  static paths = [['runtime', 'exec']];
  static operands = 'ID [COMMAND [ARG...]]';
  static usage = RuntimeCommand.Usage({
    description: 'run a process in a container',
    examples: [
      ['Exec', 'hutch runtime exec c1 cat /proc/1/cmdline'],
      ['From a file', 'hutch runtime exec --process p.json c1'],
    ],
  });
  processFile = Option.String('-p,--process', { description: 'process.json (runtime-spec process)' });
  detach = Option.Boolean('-d,--detach', false, { description: 'return once it runs; the caller adopts it' });
  pidFile = Option.String('--pid-file', { description: 'write its pid here' });
  consoleSocket = Option.String('--console-socket', { description: 'unix socket that receives the pty master' });
  tty = Option.Boolean('-t,--tty', false, { description: 'allocate a pseudo-terminal' });
  cwd = Option.String('--cwd', { description: 'working directory' });
  env = Option.Array('-e,--env', [], { description: 'K=V' });
  user = Option.String('-u,--user', { description: 'UID[:GID]' });
  cap = Option.Array('-c,--cap', [], { description: 'add a capability' });
  noNewPrivs = Option.Boolean('--no-new-privs', false, { description: 'set no_new_privs' });
  preserveFds = preserveFdsOption('the process');
  processLabel = Option.String('--process-label', { description: 'accepted for runc compatibility' });
  apparmor = Option.String('--apparmor', { description: 'accepted for runc compatibility' });
  id = Option.String();
  args = Option.Proxy();

  async run(): Promise<number> {
    return execVerb(this);
  }
}
