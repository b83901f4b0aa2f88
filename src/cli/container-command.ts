import { Option } from 'clipanion';
import { hutchPaths } from '../paths.js';
import { userStore, type ContainerStore } from '../engine/store/records.js';
import { HutchCommand } from './command.js';

/** Base of the commands that act on containers of the user face: the --root flag and the store. */
export abstract class ContainerCommand extends HutchCommand {
  root = Option.String('--root', { description: 'where hutch keeps its state (default: XDG data and runtime dirs)' });

  protected store(): ContainerStore {
    return userStore(hutchPaths(this.root));
  }
}
