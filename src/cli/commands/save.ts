import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { saveImages, type SaveFormat } from '../../image/save.js';
import { UsageError } from '../../errors.js';

const FORMATS = ['oci-archive', 'docker-archive', 'oci-dir'];

export class SaveCommand extends HutchCommand {
  static paths = [['save'], ['image', 'save']];
  static usage = HutchCommand.Usage({
    description: 'write images to an archive (docker-archive by default, as podman) or an OCI layout directory',
    examples: [
      ['Save for podman load', 'hutch save -o alpine.tar alpine'],
      ['Save as an oci-archive', 'hutch save --format oci-archive -o alpine.tar alpine'],
    ],
  });
  root = rootOption();
  output = Option.String('-o,--output', { description: 'the file (or directory for oci-dir) to write' });
  format = Option.String('--format', 'docker-archive', { description: 'oci-archive, docker-archive or oci-dir' });
  images = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    // Like podman: an archive goes to stdout without -o, unless stdout is a terminal.
    const output =
      this.output ?? ((this.context.stdout as NodeJS.WriteStream).isTTY || this.format === 'oci-dir' ? undefined : '-');
    if (output === undefined)
      throw new UsageError('SAVE_NO_OUTPUT', 'hutch save needs an output', {
        hint: 'pass it with -o FILE, or redirect stdout',
      });
    if (!FORMATS.includes(this.format))
      throw new UsageError('SAVE_FORMAT', `unknown format ${this.format}`, {
        hint: `use one of ${FORMATS.join(', ')}`,
      });
    await saveImages(this.root, this.images, output, this.format as SaveFormat);
    return 0;
  }
}
