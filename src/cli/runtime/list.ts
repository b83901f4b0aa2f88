import { Option } from 'clipanion';
import { listOci, stateJson } from '../../engine/oci/lifecycle.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime list`: runc's table, or --format json. */
export class RuntimeListCommand extends RuntimeCommand {
  static paths = [['runtime', 'list']];
  static usage = RuntimeCommand.Usage({
    description: 'list containers',
    examples: [['List', 'hutch runtime list --format json']],
  });
  format = Option.String('-f,--format', 'table', { description: 'table or json' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'ids only' });

  async run(): Promise<number> {
    const rows = (await listOci(this.root())).map((r) => ({
      ...stateJson(r),
      created: r.created,
      owner: String(process.getuid?.()),
    }));
    if (this.quiet) rows.forEach((r) => this.context.stdout.write(r.id + '\n'));
    else if (this.format === 'json') this.context.stdout.write(JSON.stringify(rows) + '\n');
    else {
      this.context.stdout.write('ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n');
      rows.forEach((r) =>
        this.context.stdout.write(`${r.id}\t${r.pid ?? 0}\t${r.status}\t${r.bundle}\t${r.created}\t${r.owner}\n`),
      );
    }
    return 0;
  }
}
