import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { pruneImages } from '../../image/manage.js';

export class ImagePruneCommand extends HutchCommand {
  static paths = [['image', 'prune']];
  static usage = HutchCommand.Usage({
    description: 'remove images without a name (with -a, every image no container uses)',
    examples: [
      ['Remove dangling images', 'hutch image prune'],
      ['Remove all unused images', 'hutch image prune -a'],
    ],
  });
  root = rootOption();
  all = Option.Boolean('-a,--all', false, { description: 'remove every image no container uses' });
  force = Option.Boolean('-f,--force', false, {
    description: 'accepted for podman compatibility (hutch never prompts)',
  });

  async run(): Promise<number> {
    for (const id of await pruneImages(this.root, this.all)) this.context.stdout.write(`${id.slice(7)}\n`);
    return 0;
  }
}
