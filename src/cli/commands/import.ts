import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { importRootfs } from '../../image/import.js';

export class ImportCommand extends HutchCommand {
  static paths = [['import'], ['image', 'import']];
  static usage = HutchCommand.Usage({
    description: 'make a one-layer image from a root filesystem tarball (plain, gzip or zstd; - for stdin)',
    examples: [['Import a tarball', 'hutch import rootfs.tar.gz mybase']],
  });
  root = rootOption();
  quiet = Option.Boolean('-q,--quiet', false, { description: 'accepted for podman compatibility' });
  env = Option.Array('--env', [], { description: 'KEY=VALUE added to the image config' });
  file = Option.String();
  name = Option.String({ required: false });

  async run(): Promise<number> {
    const record = await importRootfs(this.root, this.file, this.name, this.env);
    this.context.stdout.write(`${record.id.slice(7)}\n`);
    return 0;
  }
}
