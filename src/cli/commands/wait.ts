import { Option } from 'clipanion';
import { waitStopped } from '../../engine/container/lifecycle.js';
import { viewContainer } from '../../engine/store/view.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch wait`: blocks until the containers stop; prints each exit code. */
export class WaitCommand extends ContainerCommand {
  static paths = [['wait'], ['container', 'wait']];
  static usage = ContainerCommand.Usage({
    description: 'wait for containers to stop and print their exit codes',
    examples: [['Wait', 'hutch wait web']],
  });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    for (const ref of this.containers) {
      const id = resolveContainer(this.store(), ref);
      await waitStopped(this.store(), id);
      this.context.stdout.write(`${viewContainer(this.store(), id).state.exitCode ?? -1}\n`);
    }
    return 0;
  }
}
