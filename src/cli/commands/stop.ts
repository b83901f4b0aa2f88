import { Option } from 'clipanion';
import * as t from 'typanion';
import { stopContainer } from '../../engine/container/lifecycle.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch stop`: SIGTERM, then SIGKILL after -t seconds (podman's default: 10). */
export class StopCommand extends ContainerCommand {
  static paths = [['stop'], ['container', 'stop']];
  static usage = ContainerCommand.Usage({
    description: 'stop running containers',
    examples: [['Stop, killing after 2 seconds', 'hutch stop -t 2 web']],
  });
  time = Option.String('-t,--time', '10', { validator: t.isNumber(), description: 'seconds to wait before SIGKILL' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    await Promise.all(
      this.containers.map((ref) => stopContainer(this.store(), resolveContainer(this.store(), ref), this.time)),
    );
    this.context.stdout.write(this.containers.join('\n') + '\n');
    return 0;
  }
}
