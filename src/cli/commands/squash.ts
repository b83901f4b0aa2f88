import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class SquashCommand extends HutchCommand {
  static paths = [['squash'], ['image', 'squash']];
  static usage = HutchCommand.Usage({
    description:
      'write an image as one squashfs file that `hutch run FILE` runs without unpacking (owners and modes kept)',
    examples: [
      ['For a cluster', 'hutch squash docker.io/library/debian:12 -o debian.sqfs'],
      ['Then run it', 'hutch run ./debian.sqfs cat /etc/debian_version'],
    ],
  });
  root = rootOption();
  output = Option.String('-o,--output', { required: true, description: 'the squashfs file to write' });
  image = Option.String();

  async run(): Promise<number> {
    const { squashImage } = await import('../../engine/commit/squash.js');
    await squashImage(this.root, this.image, this.output);
    return 0;
  }
}
