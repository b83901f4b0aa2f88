import { Option } from 'clipanion';
import { setPaused } from '../../engine/store/cgroup-state.js';
import { resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch pause` / `unpause`: freeze or thaw every process of a container (cgroup.freeze). */
export class PauseCommand extends ContainerCommand {
  static paths = [['pause'], ['container', 'pause']];
  static usage = ContainerCommand.Usage({
    description: 'freeze or thaw the processes of a container (needs a cgroup of its own)',
    details:
      "Uses the container's cgroup v2 freezer (cgroup.freeze). Where the host gives hutch no cgroup (cgroup v1, no systemd user session) it fails and says why.",
    examples: [
      ['Pause', 'hutch pause web'],
      ['Resume', 'hutch unpause web'],
    ],
  });
  containers = Option.Rest({ required: 1 });
  protected pause = true;

  async run(): Promise<number> {
    for (const ref of this.containers) {
      await setPaused(this.store(), resolveContainer(this.store(), ref), this.pause);
      this.context.stdout.write(`${ref}\n`);
    }
    return 0;
  }
}

/** `hutch unpause`: thaws what `pause` froze. */
export class UnpauseCommand extends PauseCommand {
  static paths = [['unpause'], ['container', 'unpause']];
  protected pause = false;
}
