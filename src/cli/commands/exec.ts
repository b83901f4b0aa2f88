import { Option } from 'clipanion';
import { hutchPaths } from '../../paths.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch exec`: a command in a running container's namespaces and root, confined as its process. */
export class ExecCommand extends ContainerCommand {
  static paths = [['exec'], ['container', 'exec']];
  static operands = 'CONTAINER COMMAND [ARG...]';
  static usage = ContainerCommand.Usage({
    description: 'run a command in a running container',
    examples: [
      ['A shell in a container', 'hutch exec -it web sh'],
      ['As a user, in a directory', 'hutch exec -u user -w /tmp web id'],
    ],
  });
  env = Option.Array('-e,--env', [], {
    description: "set an environment variable (K=V, or K to take it from hutch's)",
  });
  workdir = Option.String('-w,--workdir', { description: 'working directory inside the container' });
  user = Option.String('-u,--user', {
    description: "USER[:GROUP] (names from the container's /etc/passwd and /etc/group, or ids)",
  });
  tty = Option.Boolean('-t,--tty', false, { description: 'allocate a pseudo-terminal' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'keep stdin open' });
  capAdd = Option.Array('--cap-add', [], { description: "add a capability to the container's set (or ALL)" });
  capDrop = Option.Array('--cap-drop', [], { description: "drop a capability from the container's set (or ALL)" });
  privileged = Option.Boolean('--privileged', false, {
    description: 'every capability (inside the user namespace: no more than your own user has)',
  });
  container = Option.String();
  command = Option.Proxy({ required: 1 });

  async run(): Promise<number> {
    // Loaded on use: the launch path is heavy and other commands need not load it.
    const { execInContainer } = await import('../../engine/container/exec.js');
    return execInContainer(
      this.store(),
      {
        container: this.container,
        command: this.command,
        env: this.env,
        workdir: this.workdir,
        user: this.user,
        tty: this.tty,
        interactive: this.interactive,
        capAdd: this.privileged ? ['ALL'] : this.capAdd,
        capDrop: this.privileged ? [] : this.capDrop,
      },
      { stdin: process.stdin, stdout: process.stdout, stderr: this.context.stderr, paths: hutchPaths(this.root) },
    );
  }
}
