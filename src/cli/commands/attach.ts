import { Option } from 'clipanion';
import { waitStopped } from '../../engine/container/lifecycle.js';
import { isLiveNow, viewContainer } from '../../engine/store/view.js';
import { entryPrinter, followLog, openLog, readLogAt } from '../../engine/store/logs.js';
import { sendStdin } from '../../engine/monitor/stdin-socket.js';
import { containerFiles, readConfig, resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/**
 * `hutch attach`: the container's output from now on, until it stops; exits with its status.
 * A container started with `-i` also gets this command's stdin (no detach keys: end with ^C).
 */
export class AttachCommand extends ContainerCommand {
  static paths = [['attach'], ['container', 'attach']];
  static usage = ContainerCommand.Usage({
    description: 'follow the output of a running container until it stops; with -i, send it stdin',
    examples: [['Attach', 'hutch attach web']],
  });
  noStdin = Option.Boolean('--no-stdin', false, { description: 'do not send stdin to a container started with -i' });
  container = Option.String();

  async run(): Promise<number> {
    const store = this.store();
    const id = resolveContainer(store, this.container);
    const file = containerFiles(store, id).log;
    const print = entryPrinter(this.context.stdout, this.context.stderr, false);
    const live = (): boolean => isLiveNow(store, id);
    // Opened before stdin goes in: a --rm container may answer, end and be removed, its log with
    // it, before the first read; the fd still reads what it wrote.
    const log = openLog(file);
    const offset = log === undefined ? 0 : readLogAt(log).offset;
    const disconnect =
      readConfig(store, id).openStdin && !this.noStdin && live()
        ? await sendStdin(containerFiles(store, id).runDir, process.stdin).catch(() => undefined)
        : undefined;
    try {
      await followLog(file, offset, print, () => !live(), log);
      await waitStopped(store, id);
    } finally {
      disconnect?.();
    }
    try {
      return viewContainer(store, id).state.exitCode ?? 0;
    } catch {
      return 0; // removed on exit (--rm)
    }
  }
}
