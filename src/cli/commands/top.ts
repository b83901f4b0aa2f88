import { Option } from 'clipanion';
import { viewContainer } from '../../engine/store/view.js';
import { containerProcesses } from '../../engine/container/list.js';
import { resolveContainer } from '../../engine/store/records.js';
import { UsageError } from '../../errors.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch top`: the container's processes, with host pids and host uids. */
export class TopCommand extends ContainerCommand {
  static paths = [['top'], ['container', 'top']];
  static usage = ContainerCommand.Usage({
    description: 'list the processes of a container',
    examples: [['Processes', 'hutch top web']],
  });
  container = Option.String();

  async run(): Promise<number> {
    const { config, state } = viewContainer(this.store(), resolveContainer(this.store(), this.container));
    if (state.status !== 'running' && state.status !== 'paused')
      throw new UsageError(
        'CONTAINER_NOT_RUNNING',
        `cannot list the processes of ${config.name}: it is ${state.status}`,
        { hint: 'start it first' },
      );
    const lines = [
      'PID\tPPID\tUID\tCOMMAND',
      ...containerProcesses(state.pid!).map((p) => `${p.pid}\t${p.ppid}\t${p.uid}\t${p.args}`),
    ];
    this.context.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
}
