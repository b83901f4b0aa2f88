import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';
import { pullImage } from '../../image/pull.js';
import { UsageError } from '../../errors.js';

export class LoadCommand extends HutchCommand {
  static paths = [['load'], ['image', 'load']];
  static usage = HutchCommand.Usage({
    description: 'load an image from an oci-archive or docker-archive tarball',
    examples: [
      ['Load a tarball from podman save', 'hutch load -i image.tar'],
      ['From stdin', 'hutch load < image.tar'],
    ],
  });
  root = rootOption();
  input = Option.String('-i,--input', { description: 'the tarball to read' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'no progress' });

  async run(): Promise<number> {
    // Like podman: the tarball comes on stdin when -i is not given and stdin is not a terminal.
    const input = this.input ?? ((this.context.stdin as NodeJS.ReadStream).isTTY ? undefined : '-');
    if (input === undefined)
      throw new UsageError('LOAD_NO_INPUT', 'hutch load needs a tarball', { hint: 'pass it with -i FILE or on stdin' });
    // Either transport opens the tarball and tells oci-archive from docker-archive by its content.
    const record = await pullImage(`docker-archive:${input}`, {
      root: this.root,
      quiet: this.quiet,
      progressTo: this.context.stderr,
    });
    const names = record.names.length > 0 ? record.names : [record.id];
    for (const name of names) this.context.stdout.write(`Loaded image: ${name}\n`);
    return 0;
  }
}
