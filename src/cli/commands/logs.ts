import { closeSync } from 'node:fs';
import { Option } from 'clipanion';
import * as t from 'typanion';
import { isLiveNow } from '../../engine/store/view.js';
import { entryPrinter, followLog, openLog, readLogAt, tail } from '../../engine/store/logs.js';
import { containerFiles, resolveContainer } from '../../engine/store/records.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch logs`: the container's output, stdout to stdout and stderr to stderr, kept until `rm`. */
export class LogsCommand extends ContainerCommand {
  static paths = [['logs'], ['container', 'logs']];
  static usage = ContainerCommand.Usage({
    description: 'print the output of a container',
    examples: [['Follow the last 10 lines', 'hutch logs -f --tail 10 web']],
  });
  follow = Option.Boolean('-f,--follow', false, { description: 'keep printing new output until the container stops' });
  tailLines = Option.String('--tail', { validator: t.isNumber(), description: 'print only the last N lines' });
  timestamps = Option.Boolean('-t,--timestamps', false, { description: 'prefix each line with its time (RFC 3339)' });
  container = Option.String();

  async run(): Promise<number> {
    const store = this.store();
    const id = resolveContainer(store, this.container);
    const file = containerFiles(store, id).log;
    const print = entryPrinter(this.context.stdout, this.context.stderr, this.timestamps);
    const log = openLog(file); // one fd throughout: a --rm container's log goes with it (logs.ts openLog)
    const first = log === undefined ? { entries: [], offset: 0 } : readLogAt(log);
    tail(first.entries, this.tailLines).forEach(print);
    if (!this.follow) {
      if (log !== undefined) closeSync(log);
      return 0;
    }
    await followLog(file, first.offset, print, () => !isLiveNow(store, id), log);
    return 0;
  }
}
