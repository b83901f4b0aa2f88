import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { tlsVerify, tlsVerifyOption } from './image-flags.js';
import { UsageError } from '../../errors.js';
import { saveCredentials, type Credentials } from '../../image/auth.js';
import { RegistryClient } from '../../image/registry.js';

export class LoginCommand extends HutchCommand {
  static paths = [['login']];
  static usage = HutchCommand.Usage({
    description: 'check credentials against a registry and store them (podman auth.json format)',
    examples: [['Log in', 'hutch login -u alice --password-stdin registry.example.org < token.txt']],
  });
  username = Option.String('-u,--username', { description: 'user name' });
  password = Option.String('-p,--password', { description: 'password (prefer --password-stdin)' });
  passwordStdin = Option.Boolean('--password-stdin', false, { description: 'read the password from stdin' });
  tlsVerify = tlsVerifyOption();
  authfile = Option.String('--authfile', {
    description: 'credentials file (default ${XDG_RUNTIME_DIR}/containers/auth.json)',
  });
  registry = Option.String();

  async run(): Promise<number> {
    if (this.username === undefined)
      throw new UsageError('LOGIN_NO_USER', 'hutch login needs a user name', { hint: 'pass it with -u USER' });
    let password = this.password;
    if (this.passwordStdin) {
      const chunks: Buffer[] = [];
      for await (const c of this.context.stdin) chunks.push(c as Buffer);
      password = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    if (password === undefined)
      throw new UsageError('LOGIN_NO_PASSWORD', 'hutch login needs a password', {
        hint: 'pass --password-stdin and write it to stdin',
      });
    const credentials = { username: this.username, password };
    await new RegistryClient({
      host: this.registry,
      repository: 'library/hutch-login-check',
      insecure: !tlsVerify(this.tlsVerify),
      credentials,
    }).ping();
    const env = this.authfile === undefined ? process.env : { ...process.env, REGISTRY_AUTH_FILE: this.authfile };
    await saveCredentials(this.registry, credentials, env);
    this.context.stdout.write('Login Succeeded!\n');
    return 0;
  }
}

/** Parses --creds USER:PASSWORD. */
export function parseCreds(text: string): Credentials {
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw new UsageError('CREDS_INVALID', '--creds must be USER:PASSWORD', { hint: 'e.g. --creds alice:secret' });
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
