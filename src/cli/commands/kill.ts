import { Option } from 'clipanion';
import { signalContainer } from '../../engine/container/lifecycle.js';
import { resolveContainer } from '../../engine/store/records.js';
import { parseSignal } from '../../engine/launch/signals.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch kill`: sends a signal (default SIGKILL) to the container's process. */
export class KillCommand extends ContainerCommand {
  static paths = [['kill'], ['container', 'kill']];
  static usage = ContainerCommand.Usage({
    description: 'send a signal to containers',
    examples: [['Send SIGHUP', 'hutch kill -s HUP web']],
  });
  signal = Option.String('-s,--signal', 'KILL', { description: 'signal name or number' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const signal = parseSignal(this.signal);
    for (const ref of this.containers)
      await signalContainer(
        this.store(),
        resolveContainer(this.store(), ref),
        signal,
        signal === 'SIGKILL' || signal === 'SIGTERM',
      );
    this.context.stdout.write(this.containers.join('\n') + '\n');
    return 0;
  }
}
