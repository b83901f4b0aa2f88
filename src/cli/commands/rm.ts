import { Option } from 'clipanion';
import { removeContainer } from '../../engine/container/lifecycle.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch rm`: removes stopped containers (-f: running ones too, killed first). */
export class RmCommand extends ContainerCommand {
  static paths = [['rm'], ['container', 'rm']];
  static usage = ContainerCommand.Usage({
    description: 'remove containers',
    examples: [['Remove a running container', 'hutch rm -f web']],
  });
  force = Option.Boolean('-f,--force', false, { description: 'kill a running container first' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    for (const ref of this.containers) {
      await removeContainer(this.store(), resolveContainer(this.store(), ref), this.force);
      this.context.stdout.write(ref + '\n');
    }
    return 0;
  }
}
