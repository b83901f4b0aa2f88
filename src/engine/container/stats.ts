import { readdirSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { parseStats, type CgroupStats, type StatsSample } from '../../cgroups/stats.js';
import { cgroupOf, viewContainer, type ContainerStore } from '../store/index.js';
import { readTextIfPresent } from '../../sys/text.js';

/**
 * One `hutch stats` sample of a container: its cgroup's accounting where it has one; else what
 * /proc tells of its process tree (CPU time, resident memory, process count). Network bytes
 * come from /proc/PID/net/dev of its process (its own network namespace) either way.
 */
export function sampleContainer(store: ContainerStore, id: string, procRoot = '/proc'): StatsSample {
  const { config, state } = viewContainer(store, id);
  const live = state.status === 'running' || state.status === 'paused';
  const handle = live ? cgroupOf(state) : undefined;
  const pid = live ? state.pid : undefined;
  const stats = handle?.stats() ?? (pid !== undefined ? treeStats(pid, procRoot) : parseStats({}));
  const sample: StatsSample = {
    id,
    name: config.name,
    stats,
    at: Date.now(),
    startedAt: Date.parse(state.startedAt ?? new Date().toISOString()),
    hostMemory: totalmem(),
  };
  const net = pid !== undefined ? netBytes(readTextIfPresent(join(procRoot, String(pid), 'net/dev'))) : undefined;
  if (net !== undefined) sample.net = net;
  return sample;
}

/** Sums /proc/net/dev's receive and transmit bytes over every interface but lo. */
export function netBytes(text: string | undefined): { rx: number; tx: number } | undefined {
  if (text === undefined) return undefined;
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (rest === undefined || name!.trim() === 'lo') continue;
    const fields = rest.trim().split(/\s+/).map(Number);
    rx += fields[0] ?? 0;
    tx += fields[8] ?? 0;
  }
  return { rx, tx };
}

/** /proc/PID/stat after the command name: state, ppid, ... utime (14), stime (15), rss (24). */
export function parseProcStat(text: string): { ppid: number; ticks: number; rssPages: number } | undefined {
  const after = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (after.length < 22) return undefined;
  return { ppid: Number(after[1]), ticks: Number(after[11]) + Number(after[12]), rssPages: Number(after[21]) };
}

// Without a cgroup the container is its process and every descendant of it.
function treeStats(root: number, procRoot: string): CgroupStats {
  const all = new Map<number, { ppid: number; ticks: number; rssPages: number }>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readTextIfPresent(join(procRoot, entry, 'stat'));
    const parsed = stat === undefined ? undefined : parseProcStat(stat);
    if (parsed !== undefined) all.set(Number(entry), parsed);
  }
  const tree = new Set(all.has(root) ? [root] : []);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of all) if (!tree.has(pid) && tree.has(p.ppid)) grew = tree.add(pid) !== undefined;
  }
  const stats = parseStats({});
  if (tree.size === 0) return stats;
  const members = [...tree].map((p) => all.get(p)!);
  // USER_HZ is 100 on every Linux architecture hutch runs on (see proc(5), sysconf(_SC_CLK_TCK)).
  stats.cpu.usageUsec = members.reduce((n, p) => n + p.ticks, 0) * 10_000;
  stats.memory.current = members.reduce((n, p) => n + p.rssPages, 0) * 4096;
  stats.pids.current = tree.size;
  return stats;
}
