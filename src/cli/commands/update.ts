import { Option } from 'clipanion';
import { resourcesFromFlags } from '../../cgroups/flags.js';
import { updateResources } from '../../engine/store/cgroup-state.js';
import { resolveContainer } from '../../engine/store/records.js';
import { UsageError } from '../../errors.js';
import { ContainerCommand } from '../container-command.js';
import { withResourceFlags } from '../options/resource-flags.js';

/** `hutch update`: new resource limits for containers, live on running ones and kept for restarts. */
export class UpdateCommand extends withResourceFlags(ContainerCommand) {
  static paths = [['update'], ['container', 'update']];
  static usage = ContainerCommand.Usage({
    description: 'change the resource limits of containers',
    details:
      'A running container gets the limits at once, through its cgroup (limits the host cannot enforce warn, as in `run`); they also apply at its next starts. A running container without a cgroup of its own fails and says why.',
    examples: [
      ['Lower the memory limit', 'hutch update --memory 256m web'],
      ['Limit CPU and processes', 'hutch update --cpus 0.5 --pids-limit 64 web'],
    ],
  });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const resources = resourcesFromFlags(this.resourceFlags());
    if (Object.keys(resources).length === 0)
      throw new UsageError('UPDATE_NO_LIMITS', 'cannot update: no limit given', {
        hint: 'give at least one of --memory, --cpus, --pids-limit, ... (see `hutch update --help`)',
      });
    const warn = (line: string): void => void this.context.stderr.write(`hutch: warning: ${line}\n`);
    for (const ref of this.containers) {
      await updateResources(this.store(), resolveContainer(this.store(), ref), resources, warn);
      this.context.stdout.write(`${ref}\n`);
    }
    return 0;
  }
}
