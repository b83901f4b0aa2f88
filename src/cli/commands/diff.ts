import { Option } from 'clipanion';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class DiffCommand extends HutchCommand {
  static paths = [['diff'], ['container', 'diff']];
  static usage = HutchCommand.Usage({
    description: 'list the files a container added (A), changed (C) and deleted (D) against its image',
    examples: [['What a container changed', 'hutch diff web']],
  });
  root = rootOption();
  format = Option.String('--format', { description: '"json" for machine-readable output' });
  container = Option.String();

  async run(): Promise<number> {
    const { diffContainer } = await import('../../engine/commit/diff.js');
    const changes = await diffContainer(hutchPaths(this.root), this.root, this.container);
    if (this.format === 'json') this.context.stdout.write(JSON.stringify(changes, null, 2) + '\n');
    else this.context.stdout.write(changes.map((c) => `${c.kind} ${c.path}\n`).join(''));
    return 0;
  }
}
