import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { tagImage } from '../../image/manage.js';

export class TagCommand extends HutchCommand {
  static paths = [['tag'], ['image', 'tag']];
  static usage = HutchCommand.Usage({
    description: 'add names to an image',
    examples: [['Name an image', 'hutch tag alpine localhost/mine:1']],
  });
  root = rootOption();
  image = Option.String();
  targets = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    await tagImage(this.root, this.image, this.targets);
    return 0;
  }
}
