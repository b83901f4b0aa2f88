import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { formatTable } from '../table.js';
import { rootOption } from './image-flags.js';

export class VolumeLsCommand extends HutchCommand {
  static paths = [
    ['volume', 'ls'],
    ['volume', 'list'],
  ];
  static usage = HutchCommand.Usage({
    description: 'list named volumes',
    examples: [
      ['List volumes', 'hutch volume ls'],
      ['Only names', 'hutch volume ls -q'],
    ],
  });
  root = rootOption();
  quiet = Option.Boolean('-q,--quiet', false, { description: 'print only volume names' });
  format = Option.String('--format', { description: '"json" for machine-readable output' });

  async run(): Promise<number> {
    const { VolumeStore } = await import('../../engine/volume/store.js');
    const volumes = new VolumeStore(this.root).list();
    if (this.format === 'json') this.context.stdout.write(JSON.stringify(volumes, null, 2) + '\n');
    else if (this.quiet) this.context.stdout.write(volumes.map((v) => v.Name + '\n').join(''));
    else this.context.stdout.write(formatTable([['DRIVER', 'VOLUME NAME'], ...volumes.map((v) => [v.Driver, v.Name])]));
    return 0;
  }
}
