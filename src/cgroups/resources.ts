import { UsageError } from '../errors.js';

/** OCI runtime-spec `linux.resources` (the parts a cgroup v2 host can apply). */
export interface LinuxResources {
  // swappiness, kernel and kernelTCP are cgroup v1 only: a v2 host has nothing to write them to.
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: {
    shares?: number;
    quota?: number;
    burst?: number;
    period?: number;
    cpus?: string;
    mems?: string;
    idle?: number;
  };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: { major: number; minor: number; weight?: number }[];
    throttleReadBpsDevice?: DeviceRate[];
    throttleWriteBpsDevice?: DeviceRate[];
    throttleReadIOPSDevice?: DeviceRate[];
    throttleWriteIOPSDevice?: DeviceRate[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  unified?: Record<string, string>;
}

export interface DeviceRate {
  major: number;
  minor: number;
  rate: number;
}

/** One write to a cgroup v2 interface file, with the controller it needs and the setting it comes from. */
export interface CgroupWrite {
  file: string;
  value: string;
  controller: string;
  setting: string;
}

/**
 * Converts OCI resources into cgroup v2 file writes, as runc and crun do (memory.swap.max
 * holds swap alone where OCI gives memory+swap; shares become a weight; blkio weights are
 * rescaled to io.weight). Pure; throws UsageError for contradictory values.
 */
export function resourcesToWrites(resources: LinuxResources): CgroupWrite[] {
  return [
    ...memoryWrites(resources.memory),
    ...cpuWrites(resources.cpu),
    ...(resources.pids ? [w('pids.max', max(resources.pids.limit), 'pids', 'pids.limit')] : []),
    ...ioWrites(resources.blockIO),
    ...(resources.hugepageLimits ?? []).map((h) =>
      w(`hugetlb.${h.pageSize}.max`, String(h.limit), 'hugetlb', 'hugepageLimits'),
    ),
    ...Object.entries(resources.unified ?? {}).map(([file, value]) =>
      w(file, value, file.split('.')[0]!, `unified.${file}`),
    ),
  ];
}

/** The controllers a set of writes needs, in a stable order. */
export function controllersNeeded(writes: CgroupWrite[]): string[] {
  return [...new Set(writes.map((x) => x.controller))].filter((c) => c !== 'cgroup').sort();
}

/** cgroup v1 cpu.shares (2..262144) to a v2 cpu.weight (1..10000), mapping 1024 to 100 (crun's curve). */
export function sharesToWeight(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.min(10000, Math.max(1, Math.ceil(10 ** exponent)));
}

/** blkio weight (10..1000) to io.weight (1..10000), linearly as runc does. */
export function blkioToIoWeight(weight: number): number {
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

function w(file: string, value: string, controller: string, setting: string): CgroupWrite {
  return { file, value, controller, setting };
}

function max(limit: number | undefined): string {
  return limit === undefined || limit <= 0 ? 'max' : String(Math.floor(limit));
}

function memoryWrites(memory: LinuxResources['memory']): CgroupWrite[] {
  if (memory === undefined) return [];
  const out: CgroupWrite[] = [];
  if (memory.limit !== undefined) out.push(w('memory.max', max(memory.limit), 'memory', 'memory.limit'));
  if (memory.reservation !== undefined)
    out.push(w('memory.low', String(Math.max(0, memory.reservation)), 'memory', 'memory.reservation'));
  if (memory.swap !== undefined && memory.swap !== 0) {
    out.push(w('memory.swap.max', swapMax(memory.swap, memory.limit), 'memory', 'memory.swap'));
  }
  return out;
}

// OCI (like docker) counts swap as memory+swap; cgroup v2 limits swap alone.
function swapMax(swap: number, limit: number | undefined): string {
  if (swap < 0) return 'max';
  if (limit === undefined || limit <= 0) {
    throw new UsageError('CGROUP_SWAP_WITHOUT_MEMORY', 'cannot set the swap limit: no memory limit is set', {
      hint: 'give --memory together with --memory-swap',
    });
  }
  if (swap < limit) {
    throw new UsageError(
      'CGROUP_SWAP_BELOW_MEMORY',
      `cannot set the swap limit: memory+swap (${swap}) is below the memory limit (${limit})`,
      {
        hint: '--memory-swap counts memory plus swap; make it at least --memory, or -1 for unlimited',
      },
    );
  }
  return String(swap - limit);
}

function cpuWrites(cpu: LinuxResources['cpu']): CgroupWrite[] {
  if (cpu === undefined) return [];
  const out: CgroupWrite[] = [];
  if (cpu.shares !== undefined && cpu.shares > 0)
    out.push(w('cpu.weight', String(sharesToWeight(cpu.shares)), 'cpu', 'cpu.shares'));
  if (cpu.idle !== undefined) out.push(w('cpu.idle', String(cpu.idle), 'cpu', 'cpu.idle'));
  if (cpu.quota !== undefined || cpu.period !== undefined) {
    const quota = cpu.quota === undefined || cpu.quota <= 0 ? 'max' : String(cpu.quota);
    out.push(w('cpu.max', `${quota} ${cpu.period ?? 100000}`, 'cpu', 'cpu.quota'));
  }
  if (cpu.burst !== undefined) out.push(w('cpu.max.burst', String(cpu.burst), 'cpu', 'cpu.burst'));
  if (cpu.cpus) out.push(w('cpuset.cpus', cpu.cpus, 'cpuset', 'cpu.cpus'));
  if (cpu.mems) out.push(w('cpuset.mems', cpu.mems, 'cpuset', 'cpu.mems'));
  return out;
}

function ioWrites(io: LinuxResources['blockIO']): CgroupWrite[] {
  if (io === undefined) return [];
  const out: CgroupWrite[] = [];
  if (io.weight !== undefined && io.weight > 0)
    out.push(w('io.weight', `default ${blkioToIoWeight(io.weight)}`, 'io', 'blockIO.weight'));
  for (const d of io.weightDevice ?? []) {
    if (d.weight !== undefined)
      out.push(w('io.weight', `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`, 'io', 'blockIO.weightDevice'));
  }
  // io.max takes every limit of one device in one line: merge the four OCI lists per device.
  const perDevice = new Map<string, string[]>();
  const add = (list: DeviceRate[] | undefined, key: string): void => {
    for (const d of list ?? []) {
      const dev = `${d.major}:${d.minor}`;
      perDevice.set(dev, [...(perDevice.get(dev) ?? []), `${key}=${d.rate}`]);
    }
  };
  add(io.throttleReadBpsDevice, 'rbps');
  add(io.throttleWriteBpsDevice, 'wbps');
  add(io.throttleReadIOPSDevice, 'riops');
  add(io.throttleWriteIOPSDevice, 'wiops');
  for (const [dev, keys] of perDevice) out.push(w('io.max', `${dev} ${keys.join(' ')}`, 'io', 'blockIO.throttle'));
  return out;
}
