import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { age, formatBytes, rootOption } from './image-flags.js';
import { imageSize } from '../../image/manage.js';
import { allImages } from '../../image/additional.js';

export class ImagesCommand extends HutchCommand {
  static paths = [['images'], ['image', 'ls'], ['image', 'list']];
  static usage = HutchCommand.Usage({
    description: 'list the images in the store',
    examples: [
      ['List images', 'hutch images'],
      ['Only ids', 'hutch images -q'],
      ['As JSON', 'hutch images --format json'],
    ],
  });
  root = rootOption();
  quiet = Option.Boolean('-q,--quiet', false, { description: 'print only image ids' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'full image ids' });
  format = Option.String('--format', { description: '"json" for machine-readable output' });

  async run(): Promise<number> {
    const stored = allImages(this.root);
    const images = stored.map((s) => s.image);
    const id = (full: string): string => (this.noTrunc ? full : full.slice(7, 19));
    if (this.format === 'json') {
      const rows = stored.map(({ image: i, store }) => ({
        Id: i.id.slice(7),
        Names: i.names,
        Digest: i.manifest,
        Created: i.created,
        Size: imageSize(i),
        ReadOnly: store.readOnly,
      }));
      this.context.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (this.quiet) {
      for (const i of images) this.context.stdout.write(`${id(i.id)}\n`);
      return 0;
    }
    const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
    for (const i of images) {
      const names = i.names.length > 0 ? i.names : ['<none>:<none>'];
      for (const name of names) {
        const colon = name.lastIndexOf(':');
        rows.push([name.slice(0, colon), name.slice(colon + 1), id(i.id), age(i.created), formatBytes(imageSize(i))]);
      }
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows)
      this.context.stdout.write(
        `${r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    return 0;
  }
}
