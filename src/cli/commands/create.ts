import { RunCommand } from './run.js';

/** `hutch create`: `run`'s flags; the container waits under its monitor for `hutch start`. */
export class CreateCommand extends RunCommand {
  static paths = [['create'], ['container', 'create']];
  static usage = RunCommand.Usage({
    description: 'create a container without starting it',
    examples: [['Create, then start', 'hutch create --name web --rootfs ./rootfs -- httpd -f && hutch start web']],
  });

  async run(): Promise<number> {
    return this.createDetached(false);
  }
}
