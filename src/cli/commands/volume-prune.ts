import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class VolumePruneCommand extends HutchCommand {
  static paths = [['volume', 'prune']];
  static usage = HutchCommand.Usage({
    description: 'remove every named volume no container uses; print their names',
    examples: [['Remove unused volumes', 'hutch volume prune']],
  });
  root = rootOption();
  force = Option.Boolean('-f,--force', false, {
    description: 'accepted for podman compatibility (hutch never prompts)',
  });

  async run(): Promise<number> {
    const { VolumeStore } = await import('../../engine/volume/store.js');
    const { removeTree } = await import('../../engine/setup/index.js');
    for (const name of await new VolumeStore(this.root).prune(removeTree)) this.context.stdout.write(name + '\n');
    return 0;
  }
}
