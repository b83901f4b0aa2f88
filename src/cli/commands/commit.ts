import { Option } from 'clipanion';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';
import { podmanBoolean, rootOption } from './image-flags.js';

export class CommitCommand extends HutchCommand {
  static paths = [['commit'], ['container', 'commit']];
  static usage = HutchCommand.Usage({
    description: "make an image of a container: its writable layer on top of its image's layers",
    details:
      "Files the container added, changed and deleted become one new layer (deletions as OCI whiteouts), owned as the container sees them. The image's config is kept; --change sets CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL or EXPOSE. Prints the image id.",
    examples: [
      ['Save a container as an image', 'hutch commit web localhost/web:v2'],
      ['With a new command and a note', 'hutch commit --change \'CMD ["httpd", "-f"]\' -m "added the site" web web:v2'],
    ],
  });
  root = rootOption();
  change = Option.Array('-c,--change', [], {
    description: 'a Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL or EXPOSE',
  });
  message = Option.String('-m,--message', { description: "a comment for the image's history" });
  author = Option.String('-a,--author', { description: 'the author (e.g. "Name <mail>")' });
  quiet = Option.Boolean('-q,--quiet', false, {
    description: 'accepted for podman compatibility (only the id is printed)',
  });
  pause = Option.String('-p,--pause', {
    tolerateBoolean: true,
    description: 'freeze the container while its layer is read (default; --pause=false to leave it running)',
  });
  container = Option.String();
  image = Option.String({ required: false });

  async run(): Promise<number> {
    const { commitContainer } = await import('../../engine/commit/commit.js');
    const image = await commitContainer(hutchPaths(this.root), this.root, {
      container: this.container,
      name: this.image,
      changes: this.change,
      message: this.message,
      author: this.author,
      pause: podmanBoolean(this.pause, true),
    });
    this.context.stdout.write(image.id.slice(7) + '\n');
    return 0;
  }
}
