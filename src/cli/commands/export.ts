import { createWriteStream } from 'node:fs';
import { Option } from 'clipanion';
import { UsageError } from '../../errors.js';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class ExportCommand extends HutchCommand {
  static paths = [['export'], ['container', 'export']];
  static usage = HutchCommand.Usage({
    description: "write a container's merged filesystem (its image and its changes) as a tar",
    examples: [
      ['To a file', 'hutch export -o web.tar web'],
      ['Into hutch import', 'hutch export web | hutch import - flat'],
    ],
  });
  root = rootOption();
  output = Option.String('-o,--output', { description: 'write to this file instead of stdout' });
  container = Option.String();

  async run(): Promise<number> {
    if (this.output === undefined && process.stdout.isTTY)
      throw new UsageError('EXPORT_TO_TERMINAL', 'cannot export to a terminal', {
        hint: 'redirect stdout to a file or give -o FILE',
      });
    const { exportContainer } = await import('../../engine/commit/export.js');
    const out = this.output === undefined ? this.context.stdout : createWriteStream(this.output);
    await exportContainer(hutchPaths(this.root), this.root, this.container, out);
    return 0;
  }
}
