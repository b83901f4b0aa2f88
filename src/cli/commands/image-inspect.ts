import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { inspectImage } from '../../image/manage.js';

export class ImageInspectCommand extends HutchCommand {
  static paths = [['image', 'inspect']];
  static usage = HutchCommand.Usage({
    description: 'print the config, layers and sizes of images as JSON',
    examples: [['Inspect an image', 'hutch image inspect alpine']],
  });
  root = rootOption();
  format = Option.String('--format', { description: 'json (the default)' });
  images = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const out = this.images.map((ref) => inspectImage(this.root, ref));
    this.context.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
}
