import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { inspectImage } from '../../image/manage.js';

/** `hutch inspect`: images for now; the engine adds containers (try them first, then images). */
export class InspectCommand extends HutchCommand {
  static paths = [['inspect']];
  static usage = HutchCommand.Usage({
    description: 'print details of images as JSON',
    examples: [['Inspect an image', 'hutch inspect alpine']],
  });
  root = rootOption();
  type = Option.String('--type', { description: 'image (containers come with the engine)' });
  format = Option.String('--format', { description: 'json (the default)' });
  names = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const out = this.names.map((ref) => inspectImage(this.root, ref));
    this.context.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
}
