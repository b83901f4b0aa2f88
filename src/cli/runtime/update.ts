import { readFileSync } from 'node:fs';
import { Option } from 'clipanion';
import { resourcesFromFlags } from '../../cgroups/flags.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import { read } from '../../engine/oci/state.js';
import { ociUpdate } from '../../engine/oci/extras.js';
import { UsageError } from '../../errors.js';
import { RuntimeCommand } from './base.js';
import { withResourceFlags } from '../options/resource-flags.js';

/** `hutch runtime update`: runc's update (podman update passes -r FILE); the flags override the file. */
export class RuntimeUpdateCommand extends withResourceFlags(RuntimeCommand) {
  static paths = [['runtime', 'update']];
  static usage = RuntimeCommand.Usage({
    description: 'change the resource limits of a container',
    examples: [
      ['From a file', 'hutch runtime update -r resources.json c1'],
      ['Memory', 'hutch runtime update --memory 256m c1'],
    ],
  });
  resources = Option.String('-r,--resources', { description: 'linux.resources JSON ("-" reads stdin)' });
  id = Option.String();

  async run(): Promise<number> {
    const record = await read(this.root(), this.id);
    const flags = resourcesFromFlags(this.resourceFlags());
    const resources: LinuxResources = { ...this.fromFile(), ...flags };
    ociUpdate(
      record.id,
      record.cgroup,
      resources,
      (line) => void this.context.stderr.write(`hutch: warning: ${line}\n`),
    );
    return 0;
  }

  private fromFile(): LinuxResources {
    if (this.resources === undefined) return {};
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.resources === '-' ? 0 : this.resources, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed as LinuxResources;
    } catch (error) {
      throw new UsageError(
        'UPDATE_RESOURCES_INVALID',
        `cannot read the resources ${this.resources}: ${(error as Error).message}`,
        { hint: 'give a linux.resources object as JSON (runtime-spec config-linux.md)', cause: error },
      );
    }
  }
}
