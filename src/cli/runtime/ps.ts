import { Option } from 'clipanion';
import { containerProcesses } from '../../engine/container/list.js';
import { ociStatus, read } from '../../engine/oci/lifecycle.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime ps`: the container's processes (--format json: their pids). */
export class RuntimePsCommand extends RuntimeCommand {
  static paths = [['runtime', 'ps']];
  static usage = RuntimeCommand.Usage({
    description: 'list the processes of a container',
    examples: [['Pids', 'hutch runtime ps --format json c1']],
  });
  format = Option.String('-f,--format', 'table', { description: 'table or json' });
  id = Option.String();

  async run(): Promise<number> {
    const record = await read(this.root(), this.id);
    const procs = ociStatus(record) === 'stopped' ? [] : containerProcesses(record.pid);
    if (this.format === 'json') this.context.stdout.write(JSON.stringify(procs.map((p) => p.pid)) + '\n');
    else
      this.context.stdout.write(
        ['PID\tPPID\tUID\tCMD', ...procs.map((p) => `${p.pid}\t${p.ppid}\t${p.uid}\t${p.args}`)].join('\n') + '\n',
      );
    return 0;
  }
}
