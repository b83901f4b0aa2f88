import { describe, expect, it } from 'vitest';
import {
  blkioToIoWeight,
  controllersNeeded,
  resourcesToWrites,
  sharesToWeight,
} from '../../../src/cgroups/resources.js';

const files = (res: Parameters<typeof resourcesToWrites>[0]): Record<string, string> =>
  Object.fromEntries(
    resourcesToWrites(res).map((w) => [
      w.file + (w.file === 'io.max' || w.file === 'io.weight' ? ` ${w.value.split(' ')[0]}` : ''),
      w.value,
    ]),
  );

describe('OCI resources to cgroup v2 files', () => {
  it('writes memory limits, swap counted apart from memory', () => {
    expect(files({ memory: { limit: 52428800, swap: 52428800, reservation: 1000 } })).toEqual({
      'memory.max': '52428800',
      'memory.swap.max': '0',
      'memory.low': '1000',
    });
    expect(files({ memory: { limit: 100, swap: 300 } })['memory.swap.max']).toBe('200');
    expect(files({ memory: { limit: -1, swap: -1 } })).toEqual({ 'memory.max': 'max', 'memory.swap.max': 'max' });
    expect(() => resourcesToWrites({ memory: { swap: 10 } })).toThrow(/no memory limit/);
    expect(() => resourcesToWrites({ memory: { limit: 100, swap: 10 } })).toThrow(/below the memory limit/);
  });

  it('writes cpu, cpuset and pids', () => {
    expect(
      files({ cpu: { quota: 20000, period: 100000, shares: 1024, cpus: '0-1', mems: '0' }, pids: { limit: 16 } }),
    ).toEqual({
      'cpu.weight': '100',
      'cpu.max': '20000 100000',
      'cpuset.cpus': '0-1',
      'cpuset.mems': '0',
      'pids.max': '16',
    });
    expect(files({ cpu: { quota: -1 } })['cpu.max']).toBe('max 100000');
    expect(files({ pids: { limit: -1 } })['pids.max']).toBe('max');
  });

  it('converts shares and blkio weights as runc and crun do', () => {
    expect([2, 1024, 262144].map(sharesToWeight)).toEqual([1, 100, 10000]);
    expect(sharesToWeight(512)).toBeGreaterThan(1);
    expect(sharesToWeight(512)).toBeLessThan(100);
    expect([10, 500, 1000].map(blkioToIoWeight)).toEqual([1, 4950, 10000]);
  });

  it('merges io limits per device into one io.max line', () => {
    const writes = resourcesToWrites({
      blockIO: {
        weight: 500,
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [
          { major: 8, minor: 0, rate: 100 },
          { major: 8, minor: 16, rate: 5 },
        ],
      },
    });
    expect(writes.map((w) => `${w.file}=${w.value}`)).toEqual([
      'io.weight=default 4950',
      'io.max=8:0 rbps=1048576 wiops=100',
      'io.max=8:16 wiops=5',
    ]);
  });

  it('passes unified keys through and lists the controllers needed', () => {
    const writes = resourcesToWrites({ unified: { 'memory.high': '1000000' }, pids: { limit: 3 }, cpu: { cpus: '0' } });
    expect(writes.find((w) => w.file === 'memory.high')).toMatchObject({
      controller: 'memory',
      setting: 'unified.memory.high',
    });
    expect(controllersNeeded(writes)).toEqual(['cpuset', 'memory', 'pids']);
    expect(resourcesToWrites({})).toEqual([]);
  });
});
