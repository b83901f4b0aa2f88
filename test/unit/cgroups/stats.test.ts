import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  humanSize,
  parseIoStat,
  parseStats,
  renderStatsTable,
  statsRow,
} from '../../../src/cgroups/stats.js';

const FILES = {
  'memory.current': '10485760\n',
  'memory.max': '52428800\n',
  'memory.stat': 'anon 8000000\nfile 2000000\ninactive_file 485760\n',
  'memory.events': 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n',
  'cpu.stat':
    'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 80\nnr_throttled 60\nthrottled_usec 900000\n',
  'pids.current': '3\n',
  'pids.max': 'max\n',
  'io.stat':
    '8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=500 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n',
  'cgroup.events': 'populated 1\nfrozen 0\n',
  'memory.peak': undefined,
};

describe('cgroup stats', () => {
  it('parses the v2 files, absent and "max" as undefined', () => {
    const s = parseStats(FILES);
    expect(s.memory).toMatchObject({ current: 10485760, max: 52428800, peak: undefined, inactiveFile: 485760 });
    expect(s.cpu).toMatchObject({ usageUsec: 2500000, nrThrottled: 60 });
    expect(s.pids).toEqual({ current: 3, max: undefined });
    expect(s.io).toEqual({ readBytes: 1500, writeBytes: 2000, readOps: 4, writeOps: 2 });
    expect([s.oom, s.oomKill, s.frozen, s.populated]).toEqual([1, 1, false, true]);
    expect(parseIoStat('')).toEqual({ readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 });
  });

  it('formats sizes and durations as podman does', () => {
    expect([0, 999, 1049, 52428800, 2147483648].map(humanSize)).toEqual([
      '0B',
      '999B',
      '1.049kB',
      '52.43MB',
      '2.147GB',
    ]);
    expect([500, 12300, 2500000, 125_250_000, 3_725_000_000].map(formatDuration)).toEqual([
      '500µs',
      '12.3ms',
      '2.5s',
      '2m5.25s',
      '1h2m5s',
    ]);
  });

  it('renders podman stats columns, CPU % from two samples', () => {
    const stats = parseStats(FILES);
    const previous = {
      id: 'f'.repeat(64),
      name: 'web',
      stats: { ...stats, cpu: { usageUsec: 2000000 } },
      at: 9000,
      startedAt: 0,
      hostMemory: 1e9,
    };
    const row = statsRow({ ...previous, stats, at: 10000 }, previous);
    expect(row).toEqual({
      id: 'ffffffffffff',
      name: 'web',
      cpu_percent: '50.00%',
      mem_usage: '10MB / 52.43MB',
      mem_percent: '19.07%',
      net_io: '-- / --',
      block_io: '1.5kB / 2kB',
      pids: '3',
      cpu_time: '2.5s',
      avg_cpu: '25.00%',
    });
    expect(renderStatsTable([row])).toMatchInlineSnapshot(`
      "ID            NAME  CPU %   MEM USAGE / LIMIT  MEM %   NET IO   BLOCK IO     PIDS  CPU TIME  AVG CPU %
      ffffffffffff  web   50.00%  10MB / 52.43MB     19.07%  -- / --  1.5kB / 2kB  3     2.5s      25.00%
      "
    `);
  });
});
