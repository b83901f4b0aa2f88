import { Option } from 'clipanion';
import { startContainer } from '../../engine/container/lifecycle.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch start`: runs a created container's process, or a stopped container again. */
export class StartCommand extends ContainerCommand {
  static paths = [['start'], ['container', 'start']];
  static usage = ContainerCommand.Usage({
    description: 'start one or more created or stopped containers',
    examples: [['Start a container', 'hutch start web']],
  });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    for (const ref of this.containers) {
      await startContainer(this.store(), resolveContainer(this.store(), ref));
      this.context.stdout.write(ref + '\n');
    }
    return 0;
  }
}
