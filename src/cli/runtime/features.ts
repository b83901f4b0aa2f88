import { featuresVerb } from './features-json.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime features`: what this runtime implements (runtime-spec features.md). */
export class RuntimeFeaturesCommand extends RuntimeCommand {
  static paths = [['runtime', 'features']];
  static usage = RuntimeCommand.Usage({
    description: 'print the features JSON',
    examples: [['Features', 'hutch runtime features']],
  });

  async run(): Promise<number> {
    return featuresVerb(this.context.stdout);
  }
}
