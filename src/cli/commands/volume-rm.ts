import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class VolumeRmCommand extends HutchCommand {
  static paths = [
    ['volume', 'rm'],
    ['volume', 'remove'],
  ];
  static usage = HutchCommand.Usage({
    description: 'remove named volumes and their files (refused for a volume a container uses)',
    examples: [['Remove a volume', 'hutch volume rm cache']],
  });
  root = rootOption();
  force = Option.Boolean('-f,--force', false, {
    description: 'remove it even while containers use it (they keep their mount)',
  });
  names = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const { VolumeStore } = await import('../../engine/volume/store.js');
    const { removeTree } = await import('../../engine/setup/index.js');
    const store = new VolumeStore(this.root);
    for (const name of this.names) {
      await store.remove(name, this.force, removeTree);
      this.context.stdout.write(name + '\n');
    }
    return 0;
  }
}
