import { describe, expect, it } from 'vitest';
import { cgroupOptionsFromFlags, parseCgroupsPath, parseSize, resourcesFromFlags } from '../../../src/cgroups/flags.js';

const MiB = 1024 * 1024;
function hintOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return `${(error as Error).message} / ${(error as { hint: string }).hint}`;
  }
  return 'no error';
}
const dev = (path: string): { major: number; minor: number } =>
  path === '/dev/sda' ? { major: 8, minor: 0 } : { major: 253, minor: 1 };

describe('resource flags', () => {
  it('parses sizes with podman units', () => {
    expect(parseSize('--memory', '50m')).toBe(50 * MiB);
    expect(parseSize('--memory', '1.5g')).toBe(1.5 * 1024 * MiB);
    expect(parseSize('--memory', '512K')).toBe(512 * 1024);
    expect(parseSize('--memory', '100')).toBe(100);
    expect(parseSize('--memory', '64mb')).toBe(64 * MiB);
    expect(() => parseSize('--memory', 'lots')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: invalid --memory value "lots"]`,
    );
  });

  it('maps memory, cpu and pids flags to OCI resources', () => {
    expect(resourcesFromFlags({ memory: '50m', cpus: '0.2', pidsLimit: '16' })).toEqual({
      memory: { limit: 50 * MiB, swap: 100 * MiB },
      cpu: { period: 100000, quota: 20000 },
      pids: { limit: 16 },
    });
    expect(resourcesFromFlags({ memory: '50m', memorySwap: '-1', memoryReservation: '20m' }).memory).toEqual({
      limit: 50 * MiB,
      swap: -1,
      reservation: 20 * MiB,
    });
    expect(resourcesFromFlags({ pidsLimit: '0' }).pids).toEqual({ limit: -1 });
    expect(resourcesFromFlags({ pidsLimit: '-1' }).pids).toEqual({ limit: -1 });
    expect(resourcesFromFlags({ cpuShares: '512', cpusetCpus: '0-1', cpusetMems: '0' }).cpu).toEqual({
      shares: 512,
      cpus: '0-1',
      mems: '0',
    });
    expect(resourcesFromFlags({ cpuWeight: '200' }).unified).toEqual({ 'cpu.weight': '200' });
    expect(resourcesFromFlags({})).toEqual({});
  });

  it('maps block io flags through the device resolver', () => {
    const io = resourcesFromFlags(
      { blkioWeight: '300', deviceReadBps: ['/dev/sda:1mb'], deviceWriteIops: ['/dev/sda:100', '/dev/dm-1:50'] },
      dev,
    ).blockIO;
    expect(io).toEqual({
      weight: 300,
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }],
      throttleWriteIOPSDevice: [
        { major: 8, minor: 0, rate: 100 },
        { major: 253, minor: 1, rate: 50 },
      ],
    });
  });

  it('refuses contradictions and nonsense with a hint', () => {
    expect(hintOf(() => resourcesFromFlags({ memorySwap: '100m' }))).toMatch(/give --memory as well/);
    expect(() => resourcesFromFlags({ memory: '100m', memorySwap: '50m' })).toThrow(
      /invalid --memory-swap value "50m"/,
    );
    expect(() => resourcesFromFlags({ memory: '1m' })).toThrow(/invalid --memory/);
    expect(() => resourcesFromFlags({ cpus: '0' })).toThrow(/invalid --cpus/);
    expect(hintOf(() => resourcesFromFlags({ cpuShares: '1' }))).toBe(
      'invalid --cpu-shares value "1" / give an integer from 2 to 262144',
    );
    expect(() => resourcesFromFlags({ cpusetCpus: '0-' })).toThrow(/--cpuset-cpus/);
    expect(() => resourcesFromFlags({ blkioWeight: '5' })).toThrow(/--blkio-weight/);
    expect(hintOf(() => resourcesFromFlags({ deviceReadBps: ['sda'] }, dev))).toMatch(/DEVICE:VALUE/);
    try {
      resourcesFromFlags({ pidsLimit: 'many' });
    } catch (error) {
      expect(error).toMatchObject({ code: 'BAD_RESOURCE_FLAG', hint: 'give an integer of at least -1' });
    }
  });

  it('validates --cgroups, --cgroup-manager and --cgroup-parent', () => {
    expect(cgroupOptionsFromFlags({})).toEqual({ mode: 'enabled', manager: undefined, parent: undefined });
    expect(
      cgroupOptionsFromFlags({ cgroups: 'required', cgroupManager: 'systemd', cgroupParent: 'batch.slice' }),
    ).toEqual({
      mode: 'required',
      manager: 'systemd',
      parent: 'batch.slice',
    });
    expect(cgroupOptionsFromFlags({ cgroupManager: 'cgroupfs', cgroupParent: '/jobs/42' }).parent).toBe('/jobs/42');
    expect(() => cgroupOptionsFromFlags({ cgroups: 'split' })).toThrow(/invalid --cgroups value "split"/);
    expect(() => cgroupOptionsFromFlags({ cgroupManager: 'runit' })).toThrow(/--cgroup-manager/);
    expect(hintOf(() => cgroupOptionsFromFlags({ cgroupManager: 'systemd', cgroupParent: '/jobs' }))).toMatch(
      /name a slice/,
    );
    expect(hintOf(() => cgroupOptionsFromFlags({ cgroupManager: 'cgroupfs', cgroupParent: '/a/../b' }))).toMatch(
      /absolute cgroup path/,
    );
  });
});

describe('OCI cgroupsPath', () => {
  it("reads runc's slice:prefix:name for systemd, and a path for cgroupfs", () => {
    expect(parseCgroupsPath('user.slice:libpod:abc', true)).toEqual({ parent: 'user.slice', name: 'libpod-abc' });
    expect(parseCgroupsPath(':hutch:abc', true)).toEqual({ name: 'hutch-abc' });
    expect(parseCgroupsPath('/jobs/42/ctr', false)).toEqual({ parent: '/jobs/42', name: 'ctr' });
    expect(parseCgroupsPath('ctr', false)).toEqual({ name: 'ctr' });
    expect(() => parseCgroupsPath('/a/b', true)).toThrow(/invalid cgroupsPath/);
  });
});
