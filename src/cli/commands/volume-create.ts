import { randomBytes } from 'node:crypto';
import { Option } from 'clipanion';
import { UsageError } from '../../errors.js';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class VolumeCreateCommand extends HutchCommand {
  static paths = [['volume', 'create']];
  static usage = HutchCommand.Usage({
    description: 'create a named volume (a folder in the store that outlives containers)',
    examples: [
      ['Create a volume', 'hutch volume create cache'],
      ['Use it', 'hutch run -v cache:/cache busybox ls /cache'],
    ],
  });
  root = rootOption();
  label = Option.Array('-l,--label', [], { description: 'KEY=VALUE metadata' });
  name = Option.String({ required: false });

  async run(): Promise<number> {
    const { VolumeStore } = await import('../../engine/volume/store.js');
    const labels: Record<string, string> = {};
    for (const l of this.label) {
      const eq = l.indexOf('=');
      if (eq <= 0)
        throw new UsageError('LABEL_INVALID', `invalid --label ${l}: expected KEY=VALUE`, {
          hint: 'e.g. --label team=hpc',
        });
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    const { record } = await new VolumeStore(this.root).create(this.name ?? randomBytes(32).toString('hex'), labels);
    this.context.stdout.write(record.Name + '\n');
    return 0;
  }
}
