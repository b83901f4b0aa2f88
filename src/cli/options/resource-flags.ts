import { Option, type Command } from 'clipanion';
import type { ResourceFlags } from '../../cgroups/flags.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's constructor takes whatever its base takes
type CommandClass = abstract new (...args: any[]) => Command;

/**
 * The resource flags of `run`/`create`, `hutch update` and `hutch runtime update` (podman's set,
 * a superset of runc's update), declared once. A mixin, because each of those commands keeps its
 * own base: the container flags, the user face's --root, runc's global flags.
 */
export function withResourceFlags<B extends CommandClass>(Base: B) {
  abstract class ResourceFlagsCommand extends Base {
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
    blkioWeightDevice = Option.Array('--blkio-weight-device', [], { description: 'DEVICE:WEIGHT' });
    deviceReadBps = Option.Array('--device-read-bps', [], { description: 'read rate limit DEVICE:RATE' });
    deviceWriteBps = Option.Array('--device-write-bps', [], { description: 'write rate limit DEVICE:RATE' });
    deviceReadIops = Option.Array('--device-read-iops', [], { description: 'read IO/s limit DEVICE:RATE' });
    deviceWriteIops = Option.Array('--device-write-iops', [], { description: 'write IO/s limit DEVICE:RATE' });

    /** The flags as src/cgroups/flags.ts reads them. */
    protected resourceFlags(): ResourceFlags {
      return {
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
        blkioWeightDevice: this.blkioWeightDevice,
        deviceReadBps: this.deviceReadBps,
        deviceWriteBps: this.deviceWriteBps,
        deviceReadIops: this.deviceReadIops,
        deviceWriteIops: this.deviceWriteIops,
      };
    }
  }
  return ResourceFlagsCommand;
}
