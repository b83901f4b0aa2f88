import { Option } from 'clipanion';
import { read, stateJson } from '../../engine/oci/lifecycle.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime state`: the runtime spec's state JSON. */
export class RuntimeStateCommand extends RuntimeCommand {
  static paths = [['runtime', 'state']];
  static usage = RuntimeCommand.Usage({
    description: 'print the state of a container (runtime-spec JSON)',
    examples: [['State', 'hutch runtime state c1']],
  });
  id = Option.String();

  async run(): Promise<number> {
    const record = await read(this.root(), this.id);
    this.context.stdout.write(
      JSON.stringify({ ...stateJson(record), rootfs: record.spec.root?.path, created: record.created }, null, 2) + '\n',
    );
    return 0;
  }
}
