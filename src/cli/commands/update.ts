import { Option } from 'clipanion';
import { resourcesFromFlags, type ResourceFlags } from '../../cgroups/flags.js';
import { updateResources } from '../../engine/store/cgroup-state.js';
import { resolveContainer } from '../../engine/store/records.js';
import { UsageError } from '../../errors.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch update`: new resource limits for containers, live on running ones and kept for restarts. */
export class UpdateCommand extends ContainerCommand {
  static paths = [['update'], ['container', 'update']];
  static usage = ContainerCommand.Usage({
    description: 'change the resource limits of containers',
    details:
      'A running container gets the limits at once, through its cgroup (limits the host cannot enforce warn, as in `run`); they also apply at its next starts. A running container without a cgroup of its own fails and says why.',
    examples: [
      ['Lower the memory limit', 'hutch update --memory 256m web'],
      ['Limit CPU and processes', 'hutch update --cpus 0.5 --pids-limit 64 web'],
    ],
  });
  memory = Option.String('-m,--memory', { description: 'memory limit (e.g. 512m)' });
  memorySwap = Option.String('--memory-swap', { description: 'memory plus swap limit (-1: unlimited)' });
  memoryReservation = Option.String('--memory-reservation', { description: 'memory soft limit' });
  cpus = Option.String('--cpus', { description: 'number of CPUs (e.g. 0.5)' });
  cpuShares = Option.String('-c,--cpu-shares', { description: 'relative CPU weight (cgroup v1 shares)' });
  cpuWeight = Option.String('--cpu-weight', { description: 'relative CPU weight 1-10000' });
  cpuPeriod = Option.String('--cpu-period', { description: 'CPU CFS period in microseconds' });
  cpuQuota = Option.String('--cpu-quota', { description: 'CPU CFS quota in microseconds' });
  cpusetCpus = Option.String('--cpuset-cpus', { description: 'CPUs to run on (e.g. 0-1)' });
  cpusetMems = Option.String('--cpuset-mems', { description: 'memory nodes to use (e.g. 0)' });
  pidsLimit = Option.String('--pids-limit', { description: 'maximum number of processes (-1: unlimited)' });
  blkioWeight = Option.String('--blkio-weight', { description: 'relative block I/O weight 10-1000' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const flags: ResourceFlags = {
      memory: this.memory,
      memorySwap: this.memorySwap,
      memoryReservation: this.memoryReservation,
      cpus: this.cpus,
      cpuShares: this.cpuShares,
      cpuWeight: this.cpuWeight,
      cpuPeriod: this.cpuPeriod,
      cpuQuota: this.cpuQuota,
      cpusetCpus: this.cpusetCpus,
      cpusetMems: this.cpusetMems,
      pidsLimit: this.pidsLimit,
      blkioWeight: this.blkioWeight,
    };
    const resources = resourcesFromFlags(flags);
    if (Object.keys(resources).length === 0)
      throw new UsageError('UPDATE_NO_LIMITS', 'cannot update: no limit given', {
        hint: 'give at least one of --memory, --cpus, --pids-limit, ... (see `hutch update --help`)',
      });
    const warn = (line: string): void => void this.context.stderr.write(`hutch: warning: ${line}\n`);
    for (const ref of this.containers) {
      await updateResources(this.store(), resolveContainer(this.store(), ref), resources, warn);
      this.context.stdout.write(`${ref}\n`);
    }
    return 0;
  }
}
