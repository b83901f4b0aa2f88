import { HutchCommand } from '../command.js';

export class VersionInfoCommand extends HutchCommand {
  static paths = [['version']];
  static usage = HutchCommand.Usage({
    description: 'print the version of hutch',
    examples: [['Print the version', 'hutch version']],
  });

  async run(): Promise<number> {
    this.context.stdout.write('hutch version 0.1.0\n');
    return 0;
  }
}
