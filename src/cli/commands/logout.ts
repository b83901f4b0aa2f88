import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { removeCredentials } from '../../image/auth.js';

export class LogoutCommand extends HutchCommand {
  static paths = [['logout']];
  static usage = HutchCommand.Usage({
    description: 'remove stored credentials for a registry',
    examples: [
      ['Log out', 'hutch logout registry.example.org'],
      ['Log out everywhere', 'hutch logout -a'],
    ],
  });
  all = Option.Boolean('-a,--all', false, { description: 'remove the credentials of every registry' });
  authfile = Option.String('--authfile', { description: 'credentials file' });
  registry = Option.String({ required: false });

  async run(): Promise<number> {
    if (this.registry === undefined && !this.all)
      throw new UsageError('LOGOUT_NO_REGISTRY', 'hutch logout needs a registry', { hint: 'name it, or pass -a' });
    const env = this.authfile === undefined ? process.env : { ...process.env, REGISTRY_AUTH_FILE: this.authfile };
    const had = await removeCredentials(this.all ? undefined : this.registry, env);
    if (!had)
      throw new UsageError('NOT_LOGGED_IN', `not logged in to ${this.registry ?? 'any registry'}`, {
        hint: 'nothing to do',
      });
    this.context.stdout.write(`Removed login credentials for ${this.registry ?? 'all registries'}\n`);
    return 0;
  }
}
