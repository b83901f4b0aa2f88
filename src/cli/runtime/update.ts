import { readFileSync } from 'node:fs';
import { Option } from 'clipanion';
import { resourcesFromFlags } from '../../cgroups/flags.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import { read } from '../../engine/oci/lifecycle.js';
import { ociUpdate } from '../../engine/oci/extras.js';
import { UsageError } from '../../errors.js';
import { RuntimeCommand } from './base.js';

/** `hutch runtime update`: runc's update (podman update passes -r FILE); the flags override the file. */
export class RuntimeUpdateCommand extends RuntimeCommand {
  static paths = [['runtime', 'update']];
  static usage = RuntimeCommand.Usage({
    description: 'change the resource limits of a container',
    examples: [
      ['From a file', 'hutch runtime update -r resources.json c1'],
      ['Memory', 'hutch runtime update --memory 256m c1'],
    ],
  });
  resources = Option.String('-r,--resources', { description: 'linux.resources JSON ("-" reads stdin)' });
  memory = Option.String('--memory', { description: 'memory limit in bytes (or 512m)' });
  memorySwap = Option.String('--memory-swap', { description: 'memory plus swap limit' });
  memoryReservation = Option.String('--memory-reservation', { description: 'memory soft limit' });
  cpuShares = Option.String('--cpu-shares', { description: 'relative CPU weight (cgroup v1 shares)' });
  cpuPeriod = Option.String('--cpu-period', { description: 'CPU CFS period in microseconds' });
  cpuQuota = Option.String('--cpu-quota', { description: 'CPU CFS quota in microseconds' });
  cpusetCpus = Option.String('--cpuset-cpus', { description: 'CPUs to run on' });
  cpusetMems = Option.String('--cpuset-mems', { description: 'memory nodes to use' });
  pidsLimit = Option.String('--pids-limit', { description: 'maximum number of processes' });
  blkioWeight = Option.String('--blkio-weight', { description: 'relative block I/O weight 10-1000' });
  id = Option.String();

  async run(): Promise<number> {
    const record = read(this.root(), this.id);
    const flags = resourcesFromFlags({
      memory: this.memory,
      memorySwap: this.memorySwap,
      memoryReservation: this.memoryReservation,
      cpuShares: this.cpuShares,
      cpuPeriod: this.cpuPeriod,
      cpuQuota: this.cpuQuota,
      cpusetCpus: this.cpusetCpus,
      cpusetMems: this.cpusetMems,
      pidsLimit: this.pidsLimit,
      blkioWeight: this.blkioWeight,
    });
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
