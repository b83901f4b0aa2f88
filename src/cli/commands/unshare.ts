import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';

export class UnshareCommand extends HutchCommand {
  static paths = [['unshare']];
  static usage = HutchCommand.Usage({
    description:
      'run a command (default: your shell) as root of a user namespace mapping your subuid range, as podman unshare',
    details:
      "Inside, uid 0 is you and uid N is the Nth id of your /etc/subuid range: the view containers have of files. Use it to fix or remove files a container made in a bind-mounted folder. Exits with the command's status.",
    examples: [
      ['Give files a container made back to you', 'hutch unshare chown -R 0:0 ./data'],
      ['A shell, to look around', 'hutch unshare'],
    ],
  });
  command = Option.Proxy();

  async run(): Promise<number> {
    const { launchInUserNamespace } = await import('../../engine/launch/index.js');
    const { ownRangeMaps } = await import('../../userns/own-range.js');
    const args = this.command.length > 0 ? this.command : [process.env.SHELL || '/bin/sh'];
    const child = await launchInUserNamespace(
      { args, ...ownRangeMaps() },
      { stdio: ['inherit', 'inherit', 'inherit'] },
    );
    return (await child.wait()).exitCode;
  }
}
