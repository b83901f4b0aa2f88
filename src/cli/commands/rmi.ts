import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { removeImages } from '../../image/manage.js';

export class RmiCommand extends HutchCommand {
  static paths = [['rmi'], ['image', 'rm']];
  static usage = HutchCommand.Usage({
    description: 'remove images (a name of an image with several names is only untagged)',
    examples: [
      ['Remove an image', 'hutch rmi alpine'],
      ['Remove an image a container uses', 'hutch rmi -f alpine'],
    ],
  });
  root = rootOption();
  force = Option.Boolean('-f,--force', false, { description: 'remove even when containers use it, and every name' });
  images = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const result = await removeImages(this.root, this.images, this.force);
    for (const name of result.untagged) this.context.stdout.write(`Untagged: ${name}\n`);
    for (const id of result.deleted) this.context.stdout.write(`Deleted: ${id.slice(7)}\n`);
    return 0;
  }
}
