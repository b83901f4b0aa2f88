import { Option } from 'clipanion';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';

/**
 * `hutch system check [--repair]`: verifies the image store (every blob's digest, every layer's
 * index) and the containers' records and leftovers; with --repair, removes or fixes what it can
 * and says what. Exit status 1 while something is left wrong.
 */
export class SystemCheckCommand extends HutchCommand {
  static paths = [['system', 'check']];
  static usage = HutchCommand.Usage({
    description: "verify hutch's storage (blobs, layers, images, container records and leftovers)",
    details:
      'Exit status 0 when everything is consistent (or --repair fixed all it found), 1 otherwise. --repair removes bad blobs and layers and the images that need them (pull them again), records dead containers as stopped and removes what killed commands left behind.',
    examples: [
      ['Check', 'hutch system check'],
      ['Check and repair', 'hutch system check --repair'],
    ],
  });

  root = Option.String('--root', { description: 'the state folder to check (default: XDG data and runtime dirs)' });
  repair = Option.Boolean('--repair', false, { description: 'fix what can be fixed, and say what' });

  async run(): Promise<number> {
    const { checkSystem } = await import('../../engine/system/check.js');
    const root = this.root ?? (process.env.HUTCH_ROOT || undefined);
    const findings = await checkSystem(hutchPaths(root), root, this.repair);
    const lines = findings.map((f) =>
      f.repaired === undefined ? `problem: ${f.problem}` : `repaired: ${f.problem}: ${f.repaired}`,
    );
    this.context.stdout.write(lines.length === 0 ? 'ok: the storage is consistent\n' : lines.join('\n') + '\n');
    return findings.some((f) => f.repaired === undefined) ? 1 : 0;
  }
}
