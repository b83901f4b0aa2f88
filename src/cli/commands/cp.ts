import { Option } from 'clipanion';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';
import { podmanBoolean, rootOption } from './image-flags.js';

export class CpCommand extends HutchCommand {
  static paths = [['cp'], ['container', 'cp']];
  static usage = HutchCommand.Usage({
    description: 'copy files between a container and the host',
    details:
      "One path is CONTAINER:PATH, the other a host path, or - for a tar on stdin or stdout. A running container is copied through its own mounts (volumes included), a stopped one through its layers and writable layer. The container's paths resolve inside its root: a symlink in it never leads to the host. Files copied in belong to the container's user (-a, the default) or keep their owner, as the container sees it; files copied out belong to you.",
    examples: [
      ['Out of a container', 'hutch cp web:/etc/nginx/nginx.conf ./nginx.conf'],
      ['Into a container', 'hutch cp ./site web:/usr/share/html'],
      ['A folder as a tar', 'hutch cp web:/var/log - > logs.tar'],
    ],
  });
  root = rootOption();
  archive = Option.String('-a,--archive', {
    tolerateBoolean: true,
    description: "files copied in belong to the container's user (default); --archive=false keeps their owner",
  });
  follow = Option.Boolean('-L,--follow-link', false, { description: 'follow a source that is a symlink' });
  overwrite = Option.Boolean('--overwrite', false, { description: 'accepted for podman compatibility' });
  source = Option.String();
  destination = Option.String();

  async run(): Promise<number> {
    const { copyFiles } = await import('../../engine/commit/copy.js');
    await copyFiles(
      hutchPaths(this.root),
      {
        source: this.source,
        destination: this.destination,
        archive: podmanBoolean(this.archive, true),
        follow: this.follow,
      },
      {
        stdin: this.context.stdin,
        stdout: this.context.stdout,
        warn: (line) => void this.context.stderr.write(`hutch: warning: ${line}\n`),
      },
    );
    return 0;
  }
}
