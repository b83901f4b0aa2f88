import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class VolumeInspectCommand extends HutchCommand {
  static paths = [['volume', 'inspect']];
  static usage = HutchCommand.Usage({
    description: 'show named volumes as JSON (name, mountpoint, creation time, labels, users)',
    examples: [["Where a volume's files are", 'hutch volume inspect cache']],
  });
  root = rootOption();
  names = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const { VolumeStore } = await import('../../engine/volume/store.js');
    const store = new VolumeStore(this.root);
    const shown = this.names.map((n) => ({ ...store.get(n), UsedBy: store.users(n) }));
    this.context.stdout.write(JSON.stringify(shown, null, 2) + '\n');
    return 0;
  }
}
