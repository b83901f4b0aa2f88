import { Option } from 'clipanion';
import { ociKill } from '../../engine/oci/lifecycle.js';
import { parseSignalNumber } from '../../engine/launch/signals.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime kill ID [SIGNAL]` (default SIGTERM, as runc). */
export class RuntimeKillCommand extends RuntimeCommand {
  static paths = [['runtime', 'kill']];
  static usage = RuntimeCommand.Usage({
    description: 'send a signal to the container process',
    examples: [['Kill', 'hutch runtime kill c1 KILL']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'accepted for runc compatibility (PID 1 ending ends all)' });
  id = Option.String();
  signal = Option.String({ required: false });

  async run(): Promise<number> {
    await ociKill(this.root(), this.id, parseSignalNumber(this.signal ?? 'TERM'));
    return 0;
  }
}
