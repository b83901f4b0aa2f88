import { Option } from 'clipanion';
import { viewContainer } from '../../engine/container.js';
import { resolveContainer } from '../../engine/state.js';
import { CgroupError } from '../../errors.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch pause` / `unpause`: need a cgroup freezer, which lands with the cgroups work. */
export class PauseCommand extends ContainerCommand {
  static paths = [['pause'], ['unpause'], ['container', 'pause'], ['container', 'unpause']];
  static usage = ContainerCommand.Usage({ description: 'freeze or thaw the processes of a container (needs a cgroup freezer)', examples: [['Pause', 'hutch pause web']] });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    for (const ref of this.containers) {
      const { config } = viewContainer(this.store(), resolveContainer(this.store(), ref));
      throw new CgroupError('CGROUP_FREEZER_UNAVAILABLE', `cannot pause container ${config.name}: it has no cgroup of its own with a freezer`, {
        hint: 'pausing needs a delegated cgroup v2 subtree (systemd user session); `hutch system info` shows what this host gives',
      });
    }
    return 0;
  }
}
