import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { rootOption } from './image-flags.js';

export class BuildCommand extends HutchCommand {
  static paths = [['build'], ['image', 'build']];
  static usage = HutchCommand.Usage({
    description: 'build an image from a Containerfile (Dockerfile), rootless',
    details:
      'Each step runs as hutch run runs a container (RUN as root of your user namespace, on the union filesystem) and becomes a layer; unchanged steps come from the layer cache. Supported instructions and the differences from buildah: docs/build.md. Prints the image id.',
    examples: [
      ['Build the Containerfile of the current directory', 'hutch build -t localhost/app .'],
      [
        'One stage, a build argument, no cache',
        'hutch build -f Dockerfile --target test --build-arg V=2 --no-cache -t app:test .',
      ],
    ],
  });
  root = rootOption();
  tag = Option.Array('-t,--tag', [], { description: 'name the image NAME[:TAG] (repeatable)' });
  file = Option.String('-f,--file', {
    description: 'the Containerfile (default: CONTEXT/Containerfile, else CONTEXT/Dockerfile)',
  });
  buildArg = Option.Array('--build-arg', [], { description: 'K=V for an ARG (K alone: from your environment)' });
  target = Option.String('--target', { description: 'build up to this stage (its AS name or number)' });
  noCache = Option.Boolean('--no-cache', false, {
    description: 'run every step again instead of using the layer cache',
  });
  network = Option.String('--network', {
    description: "RUN steps' network: slirp4netns, pasta, host or none (as run's)",
  });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'print only the image id (and what RUN steps print)' });
  contextDir = Option.String({ required: false });

  async run(): Promise<number> {
    const { buildImage } = await import('../../build/build.js');
    const image = await buildImage({
      context: this.contextDir ?? '.',
      file: this.file,
      tags: this.tag,
      buildArgs: this.buildArg,
      target: this.target,
      noCache: this.noCache,
      root: this.root,
      network: this.network,
      out: (line) => void (this.quiet ? undefined : this.context.stdout.write(line + '\n')),
      warn: (line) => void this.context.stderr.write(line + '\n'),
    });
    this.context.stdout.write(image.id.slice(7) + '\n');
    return 0;
  }
}
