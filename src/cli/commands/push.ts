import { Option } from 'clipanion';
import * as t from 'typanion';
import { HutchCommand } from '../command.js';
import { parseCreds } from './login.js';
import { rootOption, tlsVerify, tlsVerifyOption } from './image-flags.js';

export class PushCommand extends HutchCommand {
  static paths = [['push'], ['image', 'push']];
  static usage = HutchCommand.Usage({
    description: 'push an image to a registry; prints the manifest digest',
    details:
      'Blobs the registry has are skipped (HEAD), blobs of another repository of the same registry the image was named in are mounted, the rest uploaded (in chunks above --chunk-size); the manifest goes last, so a failed push leaves nothing referenced. Credentials, registries.conf and TLS as for pull.',
    examples: [
      ["Push under the image's own name", 'hutch push registry.example.org/team/app:1'],
      [
        'Push to another name, zstd-compressed',
        'hutch push --compression-format zstd app registry.example.org/team/app:1',
      ],
    ],
  });
  root = rootOption();
  quiet = Option.Boolean('-q,--quiet', false, { description: 'no progress lines' });
  tlsVerify = tlsVerifyOption();
  creds = Option.String('--creds', { description: 'USER:PASSWORD for the registry' });
  compression = Option.String('--compression-format', 'gzip', {
    validator: t.isEnum(['gzip', 'zstd'] as const),
    description: 'gzip (default) or zstd: layers stored otherwise are recompressed',
  });
  chunkSize = Option.String('--chunk-size', {
    validator: t.isNumber(),
    description: 'upload blobs larger than this many bytes in chunks of it (default 16 MiB)',
  });
  image = Option.String();
  dest = Option.String({ required: false });

  async run(): Promise<number> {
    const { pushImage } = await import('../../image/push/push.js');
    const digest = await pushImage(this.image, this.dest, {
      root: this.root,
      tlsVerify: tlsVerify(this.tlsVerify),
      credentials: this.creds === undefined ? undefined : parseCreds(this.creds),
      compression: this.compression,
      chunkSize: this.chunkSize,
      log: this.quiet ? undefined : (line) => void this.context.stderr.write(line + '\n'),
    });
    this.context.stdout.write(digest + '\n');
    return 0;
  }
}
