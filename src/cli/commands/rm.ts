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
    // At once, as podman does: each removal mostly waits for its container's monitor to end.
    const removals = await Promise.allSettled(
      this.containers.map(async (ref) =>
        removeContainer(this.store(), resolveContainer(this.store(), ref), this.force),
      ),
    );
    for (const [i, removal] of removals.entries())
      if (removal.status === 'fulfilled') this.context.stdout.write(this.containers[i] + '\n');
    const failed = removals.find((removal) => removal.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return 0;
  }
}
