import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { parseCreds } from './login.js';
import { rootOption, tlsVerify, tlsVerifyOption } from './image-flags.js';
import { pullImage } from '../../image/pull.js';

export class PullCommand extends HutchCommand {
  static paths = [['pull'], ['image', 'pull']];
  static usage = HutchCommand.Usage({
    description: 'pull an image from a registry, an OCI layout or an image archive into the store',
    examples: [
      ['Pull from Docker Hub', 'hutch pull alpine:3.20'],
      ['Pull from a plain-HTTP registry', 'hutch pull --tls-verify=false 127.0.0.1:5000/app:1'],
      ['Pull from an OCI layout directory', 'hutch pull oci:/tmp/layout:latest'],
    ],
  });
  root = rootOption();
  quiet = Option.Boolean('-q,--quiet', false, { description: 'no progress; print only the image id' });
  platform = Option.String('--platform', { description: 'os/arch[/variant] to pull from a multi-platform image' });
  tlsVerify = tlsVerifyOption();
  creds = Option.String('--creds', { description: 'USER:PASSWORD for the registry' });
  image = Option.String();

  async run(): Promise<number> {
    const record = await pullImage(this.image, {
      root: this.root,
      quiet: this.quiet,
      platform: this.platform,
      tlsVerify: tlsVerify(this.tlsVerify),
      credentials: this.creds === undefined ? undefined : parseCreds(this.creds),
      progressTo: this.context.stderr,
    });
    this.context.stdout.write(`${record.id.slice(7)}\n`);
    return 0;
  }
}
