import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option } from 'clipanion';
import { UsageError } from '../../errors.js';
import { rootlessSpec } from '../../engine/oci/rootless-spec.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime spec [--rootless]`: writes a starting config.json, as `runc spec`. */
export class RuntimeSpecCommand extends RuntimeCommand {
  static paths = [['runtime', 'spec']];
  static usage = RuntimeCommand.Usage({
    description: 'write a config.json for a rootless bundle',
    examples: [['A bundle', 'mkdir -p b/rootfs && cd b && hutch runtime spec --rootless']],
  });
  bundle = Option.String('-b,--bundle', '.', { description: 'where to write config.json' });
  rootlessFlag = Option.Boolean('--rootless', true, {
    description: 'map your uid to root in a user namespace (always so)',
  });

  async run(): Promise<number> {
    const file = join(this.bundle, 'config.json');
    if (existsSync(file))
      throw new UsageError('SPEC_EXISTS', `cannot write ${file}: it exists`, { hint: 'remove it first' });
    writeFileSync(file, JSON.stringify(rootlessSpec(process.getuid!(), process.getgid!()), null, 2) + '\n');
    return 0;
  }
}
