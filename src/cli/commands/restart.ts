import { Option } from 'clipanion';
import * as t from 'typanion';
import { startContainer, stopContainer } from '../../engine/container/lifecycle.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch restart`: stop (TERM, then KILL after -t), then start again. */
export class RestartCommand extends ContainerCommand {
  static paths = [['restart'], ['container', 'restart']];
  static usage = ContainerCommand.Usage({
    description: 'restart containers',
    examples: [['Restart', 'hutch restart web']],
  });
  time = Option.String('-t,--time', '10', { validator: t.isNumber(), description: 'seconds to wait before SIGKILL' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    for (const ref of this.containers) {
      const id = resolveContainer(this.store(), ref);
      await stopContainer(this.store(), id, this.time);
      await startContainer(this.store(), id);
      this.context.stdout.write(ref + '\n');
    }
    return 0;
  }
}
