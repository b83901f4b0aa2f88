import { Option } from 'clipanion';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPortLines } from '../../engine/setup/network.js';
import { resolveContainer, userStore } from '../../engine/store/records.js';
import { UsageError } from '../../errors.js';
import { hutchPaths } from '../../paths.js';
import { HutchCommand } from '../command.js';

/** `hutch port CONTAINER`: the published ports of a running container, as podman prints them. */
export class PortCommand extends HutchCommand {
  static paths = [['port'], ['container', 'port']];
  static usage = HutchCommand.Usage({
    description: 'list the published ports of a running container',
    examples: [['Where port 80 of web is published', 'hutch port web']],
  });
  root = Option.String('--root', { description: 'where hutch keeps its state (default: XDG data and runtime dirs)' });
  container = Option.String();

  async run(): Promise<number> {
    const paths = hutchPaths(this.root);
    const dir = join(paths.run, 'ephemeral'); // a foreground run's folders
    let ids: string[] = [];
    try {
      const store = userStore(paths);
      const id = resolveContainer(store, this.container); // a name, or an id of run -d/create
      for (const line of readPortLines(join(store.run, id)))
        this.context.stdout.write(line.replace(/^(.*)->(.*)$/, '$2 -> $1') + '\n');
      return 0;
    } catch {
      try {
        ids = readdirSync(dir).filter((id) => !id.startsWith('.') && id.startsWith(this.container)); // a foreground run
      } catch {
        // no container has run yet
      }
    }
    if (ids.length !== 1)
      throw new UsageError(
        'PORT_NO_CONTAINER',
        `cannot list ports of ${this.container}: ${ids.length === 0 ? 'no running container has that id' : 'the id prefix is ambiguous'}`,
        { hint: 'give the id (or a unique prefix) from `hutch ps`' },
      );
    for (const line of readPortLines(join(dir, ids[0]!)))
      this.context.stdout.write(line.replace(/^(.*)->(.*)$/, '$2 -> $1') + '\n');
    return 0;
  }
}
