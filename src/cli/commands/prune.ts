import { removeContainer } from '../../engine/container/lifecycle.js';
import { listContainers } from '../../engine/container/list.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch container prune`: removes every stopped container. */
export class ContainerPruneCommand extends ContainerCommand {
  static paths = [['container', 'prune']];
  static usage = ContainerCommand.Usage({
    description: 'remove all stopped containers',
    examples: [['Prune', 'hutch container prune']],
  });

  async run(): Promise<number> {
    for (const v of (await listContainers(this.store())).filter((v) => v.state.status === 'stopped')) {
      await removeContainer(this.store(), v.config.id, false);
      this.context.stdout.write(v.config.id + '\n');
    }
    return 0;
  }
}
