import { Option } from 'clipanion';
import { createInterface } from 'node:readline/promises';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';

/**
 * `hutch system reset`: removes every container, image, layer, volume and runtime file hutch keeps
 * for the user (podman's `system reset`). Refuses while containers run unless --force; asks first
 * on a terminal unless --force.
 */
export class SystemResetCommand extends HutchCommand {
  static paths = [['system', 'reset']];
  static usage = HutchCommand.Usage({
    description: "remove every container, image, layer, volume and runtime file of hutch's storage",
    details:
      'Running containers are refused unless --force, which stops them first. On a terminal it asks before it removes anything, unless --force.',
    examples: [
      ['Reset, asked first', 'hutch system reset'],
      ['Stop what runs and reset, without asking', 'hutch system reset -f'],
      ['Reset a --root', 'hutch system reset -f --root /tmp/state'],
    ],
  });

  root = Option.String('--root', { description: 'the state folder to reset (default: XDG data and runtime dirs)' });
  force = Option.Boolean('-f,--force', false, { description: 'stop running containers first, and do not ask' });

  async run(): Promise<number> {
    const { defaultOciRoot } = await import('../../engine/oci/state.js');
    const { planReset, removeEmptyRoot, reset } = await import('../../engine/system/reset.js');
    const root = this.root ?? (process.env.HUTCH_ROOT || undefined);
    const plan = await planReset(hutchPaths(root), root === undefined ? defaultOciRoot() : undefined);
    if (!this.force && plan.running.length === 0 && process.stdin.isTTY && !(await this.confirm(plan.dirs))) {
      this.context.stdout.write('nothing was removed\n');
      return 0;
    }
    const result = await reset(plan, this.force);
    if (root !== undefined) removeEmptyRoot(root);
    for (const w of result.warnings) this.context.stderr.write(`hutch: warning: ${w}\n`);
    const out = [`removed ${result.containers} container(s)`, ...result.removed.map((dir) => `removed ${dir}`)];
    this.context.stdout.write(out.join('\n') + '\n');
    return 0;
  }

  /** Lists what goes and asks; true when the user says yes. */
  private async confirm(dirs: string[]): Promise<boolean> {
    const what = dirs.length === 0 ? '  (nothing: hutch keeps no files yet)' : dirs.map((d) => `  ${d}`).join('\n');
    this.context.stdout.write(
      `This removes every container, image, layer, volume and runtime file of hutch in:\n${what}\n`,
    );
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return /^y(es)?$/i.test((await rl.question('Are you sure you want to continue? [y/N] ')).trim());
    } finally {
      rl.close();
    }
  }
}
