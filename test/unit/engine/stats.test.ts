import { describe, expect, it } from 'vitest';
import { mergeResources } from '../../../src/engine/store/cgroup-state.js';
import { netBytes, parseProcStat } from '../../../src/engine/container/stats.js';

describe('stats from /proc', () => {
  it('sums net/dev bytes over every interface but lo', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0',
      '   tap0:    1200      10    0    0    0     0          0         0      300       3    0    0    0     0       0          0',
      '  eth1:  34 1 0 0 0 0 0 0 66 1 0 0 0 0 0 0',
    ].join('\n');
    expect(netBytes(text)).toEqual({ rx: 1234, tx: 366 });
    expect(netBytes(undefined)).toBeUndefined();
  });

  it('reads ppid, CPU ticks and rss from /proc/PID/stat, whatever the command name holds', () => {
    const stat =
      '42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 25 15 0 0 20 0 1 0 123 4096000 300 18446744073709551615';
    expect(parseProcStat(stat)).toEqual({ ppid: 7, ticks: 40, rssPages: 300 });
    expect(parseProcStat('1 (x) S')).toBeUndefined();
  });
});

describe('hutch update', () => {
  it('overrides earlier limits key by key', () => {
    expect(
      mergeResources(
        { memory: { limit: 100, swap: 200 }, pids: { limit: 5 } },
        { memory: { limit: 50 }, cpu: { quota: 1 } },
      ),
    ).toEqual({
      memory: { limit: 50, swap: 200 },
      pids: { limit: 5 },
      cpu: { quota: 1 },
    });
  });
});
