import { Option } from 'clipanion';
import { SANDBOX_FLAGS } from '../../sandbox/argv.js';
import { HutchCommand } from '../command.js';

const flagList = Object.entries(SANDBOX_FLAGS)
  .map(([flag, f]) => `\n\n${[flag, ...f.args].join(' ')}: ${f.help}`)
  .join('');

/**
 * `hutch sandbox`: a command confined on the host's own root (bubblewrap's job; docs/sandbox.md).
 * bin/hutch runs `hutch sandbox ...` through its own small bundle entry (src/cli/sandbox-main.ts),
 * without clipanion; this class serves `hutch sandbox --help` and `hutch help`, and the same run.
 */
export class SandboxCommand extends HutchCommand {
  static paths = [['sandbox']];
  static usage = HutchCommand.Usage({
    description: "run a command confined on the host's own root filesystem, as bubblewrap does",
    details:
      "The command sees the host's /usr, /etc and /opt read-only, a fresh /proc, a minimal /dev, an empty /tmp and an empty home (or --home DIR), and no network (--share-net shares the host's). It runs as you, without capabilities, under the default seccomp profile, in a session of its own. Sockets of your desktop session (--socket) and /dev/dri (--device dri) come only when asked. Exits with the command's status. Recipes: docs/sandbox.md.\n\nFlags (each may repeat; the command comes after --):" +
      flagList,
    examples: [
      ['A shell that sees none of your files', 'hutch sandbox -- bash'],
      ['A build with no network, on the current folder', 'hutch sandbox --bind "$PWD" "$PWD" --chdir "$PWD" -- make'],
      [
        'A PDF viewer on Wayland, reading one folder',
        'hutch sandbox --socket wayland --ro-bind ~/Documents ~/Documents -- evince',
      ],
    ],
  });

  words = Option.Proxy({ required: 1 });

  async run(): Promise<number> {
    const { runSandbox, parseSandboxArgs } = await import('../../sandbox/index.js');
    return runSandbox(parseSandboxArgs(this.words));
  }
}
