import { UsageError } from '../errors.js';
import type { DeviceRate, LinuxResources } from './resources.js';

/** The resource flags of `hutch run`/`create`/`update`, as podman spells them (values as typed). */
export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  blkioWeightDevice?: string[];
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
}

/** `--cgroups`: required is hutch's own: unenforceable limits become errors. */
export type CgroupsMode = 'enabled' | 'disabled' | 'no-conmon' | 'required';
export type CgroupManager = 'systemd' | 'cgroupfs';

export interface CgroupFlags {
  cgroups?: string;
  cgroupManager?: string;
  cgroupParent?: string;
}

export interface CgroupOptions {
  mode: CgroupsMode;
  manager: CgroupManager | undefined;
  parent: string | undefined;
}

/** Resolves a device path (for --device-read-bps and friends) to its major:minor. */
export type DeviceResolver = (path: string) => { major: number; minor: number };

/**
 * Turns the resource flags into OCI `linux.resources`. Pure but for `resolveDevice`. Sizes
 * take podman's units (b, k, m, g, t; binary); --memory-swap counts memory plus swap and
 * defaults to twice --memory, as in podman.
 */
export function resourcesFromFlags(flags: ResourceFlags, resolveDevice?: DeviceResolver): LinuxResources {
  const res: LinuxResources = {};
  const memory = memoryFromFlags(flags);
  if (memory !== undefined) res.memory = memory;
  const cpu = cpuFromFlags(flags);
  if (cpu !== undefined) res.cpu = cpu;
  if (flags.pidsLimit !== undefined)
    res.pids = { limit: Math.max(-1, integer('--pids-limit', flags.pidsLimit, -1)) || -1 };
  if (flags.cpuWeight !== undefined)
    res.unified = { 'cpu.weight': String(integer('--cpu-weight', flags.cpuWeight, 1, 10000)) };
  const io = ioFromFlags(flags, resolveDevice);
  if (io !== undefined) res.blockIO = io;
  return res;
}

/** Validates --cgroups, --cgroup-manager and --cgroup-parent. */
export function cgroupOptionsFromFlags(flags: CgroupFlags): CgroupOptions {
  const mode = flags.cgroups ?? 'enabled';
  if (!['enabled', 'disabled', 'no-conmon', 'required'].includes(mode)) {
    throw bad('--cgroups', mode, 'use enabled, disabled, no-conmon or required');
  }
  const manager = flags.cgroupManager;
  if (manager !== undefined && manager !== 'systemd' && manager !== 'cgroupfs')
    throw bad('--cgroup-manager', manager, 'use systemd or cgroupfs');
  const parent = flags.cgroupParent;
  if (parent !== undefined) {
    const slice = /^[A-Za-z0-9:_.\\-]+\.slice$/.test(parent);
    const path = parent.startsWith('/') && !parent.split('/').includes('..');
    if (manager === 'systemd' && !slice)
      throw bad('--cgroup-parent', parent, 'with the systemd manager, name a slice, e.g. batch.slice');
    if (manager === 'cgroupfs' && !path)
      throw bad('--cgroup-parent', parent, 'with the cgroupfs manager, give an absolute cgroup path, e.g. /jobs/42');
    if (!slice && !path)
      throw bad('--cgroup-parent', parent, 'name a slice (batch.slice) or an absolute cgroup path (/jobs/42)');
  }
  return { mode: mode as CgroupsMode, manager, parent };
}

/** Parses a size such as 50m, 1.5g, 512k, 100 (bytes), 1024b; binary multiples, as podman. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) throw bad(flag, text, 'give a size such as 512k, 50m or 2g');
  const power = 'bkmgtp'.indexOf((m[2] || 'b').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function memoryFromFlags(flags: ResourceFlags): LinuxResources['memory'] {
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (flags.memory !== undefined) {
    memory.limit = parseSize('--memory', flags.memory);
    if (memory.limit > 0 && memory.limit < 6 * 1024 * 1024)
      throw bad('--memory', flags.memory, 'the smallest memory limit is 6m');
  }
  if (flags.memorySwap !== undefined) {
    if (memory.limit === undefined)
      throw bad('--memory-swap', flags.memorySwap, 'give --memory as well: --memory-swap counts memory plus swap');
    memory.swap = flags.memorySwap.trim() === '-1' ? -1 : parseSize('--memory-swap', flags.memorySwap);
    if (memory.swap !== -1 && memory.swap < memory.limit)
      throw bad('--memory-swap', flags.memorySwap, 'it counts memory plus swap: make it at least --memory, or -1');
  } else if (memory.limit !== undefined && memory.limit > 0) {
    memory.swap = memory.limit * 2;
  }
  if (flags.memoryReservation !== undefined)
    memory.reservation = parseSize('--memory-reservation', flags.memoryReservation);
  return Object.keys(memory).length > 0 ? memory : undefined;
}

function cpuFromFlags(flags: ResourceFlags): LinuxResources['cpu'] {
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (flags.cpus !== undefined) {
    const n = Number(flags.cpus);
    if (!Number.isFinite(n) || n <= 0 || flags.cpus.trim() === '')
      throw bad('--cpus', flags.cpus, 'give a positive number of CPUs, e.g. 0.5');
    cpu.period = 100000;
    cpu.quota = Math.max(1000, Math.round(n * 100000));
  }
  if (flags.cpuPeriod !== undefined) cpu.period = integer('--cpu-period', flags.cpuPeriod, 1000, 1000000);
  if (flags.cpuQuota !== undefined) cpu.quota = integer('--cpu-quota', flags.cpuQuota, -1);
  if (flags.cpuShares !== undefined) cpu.shares = integer('--cpu-shares', flags.cpuShares, 2, 262144);
  if (flags.cpusetCpus !== undefined) cpu.cpus = cpuList('--cpuset-cpus', flags.cpusetCpus);
  if (flags.cpusetMems !== undefined) cpu.mems = cpuList('--cpuset-mems', flags.cpusetMems);
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

function ioFromFlags(flags: ResourceFlags, resolve: DeviceResolver | undefined): LinuxResources['blockIO'] {
  const io: NonNullable<LinuxResources['blockIO']> = {};
  if (flags.blkioWeight !== undefined) {
    const weight = integer('--blkio-weight', flags.blkioWeight, 0, 1000);
    if (weight !== 0 && weight < 10)
      throw bad('--blkio-weight', flags.blkioWeight, 'give 10 to 1000 (or 0 to leave it)');
    if (weight > 0) io.weight = weight;
  }
  const devices = (
    flag: string,
    list: string[] | undefined,
    value: (flag: string, text: string) => number,
  ): DeviceRate[] | undefined =>
    list?.length ? list.map((spec) => deviceRate(flag, spec, value, resolve)) : undefined;
  const weights = devices('--blkio-weight-device', flags.blkioWeightDevice, (f, t) => integer(f, t, 10, 1000));
  if (weights) io.weightDevice = weights.map((d) => ({ major: d.major, minor: d.minor, weight: d.rate }));
  const rb = devices('--device-read-bps', flags.deviceReadBps, parseSize);
  const wb = devices('--device-write-bps', flags.deviceWriteBps, parseSize);
  const ri = devices('--device-read-iops', flags.deviceReadIops, (f, t) => integer(f, t, 1));
  const wi = devices('--device-write-iops', flags.deviceWriteIops, (f, t) => integer(f, t, 1));
  if (rb) io.throttleReadBpsDevice = rb;
  if (wb) io.throttleWriteBpsDevice = wb;
  if (ri) io.throttleReadIOPSDevice = ri;
  if (wi) io.throttleWriteIOPSDevice = wi;
  return Object.keys(io).length > 0 ? io : undefined;
}

function deviceRate(
  flag: string,
  spec: string,
  value: (flag: string, text: string) => number,
  resolve: DeviceResolver | undefined,
): DeviceRate {
  const colon = spec.lastIndexOf(':');
  if (colon <= 0) throw bad(flag, spec, 'give DEVICE:VALUE, e.g. /dev/sda:1mb');
  const path = spec.slice(0, colon);
  if (resolve === undefined) throw bad(flag, spec, 'device limits need the device resolved on the host');
  const { major, minor } = resolve(path);
  return { major, minor, rate: value(flag, spec.slice(colon + 1)) };
}

function integer(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || n < min || n > max) {
    throw bad(
      flag,
      text,
      max === Number.MAX_SAFE_INTEGER ? `give an integer of at least ${min}` : `give an integer from ${min} to ${max}`,
    );
  }
  return n;
}

function cpuList(flag: string, text: string): string {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text.trim())) throw bad(flag, text, 'give a list such as 0-3 or 0,2');
  return text.trim();
}

function bad(flag: string, value: string, hint: string): UsageError {
  return new UsageError('BAD_RESOURCE_FLAG', `invalid ${flag} value ${JSON.stringify(value)}`, { hint });
}

/**
 * An OCI `linux.cgroupsPath` as engines pass it: "slice:prefix:name" with a systemd cgroup
 * manager (runc's convention: scope prefix-name.scope in slice), else a cgroup path.
 */
export function parseCgroupsPath(path: string, systemd: boolean): { parent?: string; name?: string } {
  if (systemd) {
    const parts = path.split(':');
    if (parts.length !== 3)
      throw bad(
        'cgroupsPath',
        path,
        'with a systemd cgroup manager, give slice:prefix:name, e.g. user.slice:libpod:abc',
      );
    const [slice, prefix, name] = parts as [string, string, string];
    return { ...(slice ? { parent: slice } : {}), name: prefix ? `${prefix}-${name}` : name };
  }
  if (!path.startsWith('/')) return { name: path };
  const cut = path.lastIndexOf('/');
  return { ...(cut > 0 ? { parent: path.slice(0, cut) } : {}), name: path.slice(cut + 1) };
}
