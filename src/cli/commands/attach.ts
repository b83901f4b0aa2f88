import { Option } from 'clipanion';
import { isLive, viewContainer, waitStopped } from '../../engine/container.js';
import { followLog, readLog, renderEntry, type LogEntry } from '../../engine/logs.js';
import { containerFiles, resolveContainer } from '../../engine/state.js';
import { ContainerCommand } from '../container-command.js';

/**
 * `hutch attach`: the container's output from now on, until it stops; exits with its status.
 * Output only: the monitor keeps no stdin open for a detached container (yet).
 */
export class AttachCommand extends ContainerCommand {
  static paths = [['attach'], ['container', 'attach']];
  static usage = ContainerCommand.Usage({ description: 'follow the output of a running container until it stops (no input yet)', examples: [['Attach', 'hutch attach web']] });
  container = Option.String();

  async run(): Promise<number> {
    const store = this.store();
    const id = resolveContainer(store, this.container);
    const file = containerFiles(store, id).log;
    const print = (e: LogEntry): void => void (e.stream === 'stderr' ? this.context.stderr : this.context.stdout).write(renderEntry(e, false));
    const live = (): boolean => {
      try {
        return isLive(viewContainer(store, id));
      } catch {
        return false;
      }
    };
    await followLog(file, readLog(file).offset, print, () => !live());
    await waitStopped(store, id);
    try {
      return viewContainer(store, id).state.exitCode ?? 0;
    } catch {
      return 0; // removed on exit (--rm)
    }
  }
}
