/**
 * A container cgroup's accounting, parsed from the text of its cgroup v2 files (pure), and
 * rendered as `podman stats` shows it.
 */
export interface CgroupStats {
  memory: {
    current?: number;
    max?: number;
    peak?: number;
    swap?: number;
    inactiveFile?: number;
    anon?: number;
    file?: number;
  };
  cpu: {
    usageUsec?: number;
    userUsec?: number;
    systemUsec?: number;
    nrPeriods?: number;
    nrThrottled?: number;
    throttledUsec?: number;
  };
  pids: { current?: number; max?: number };
  io: { readBytes: number; writeBytes: number; readOps: number; writeOps: number };
  /** memory.events: oom = the limit was hit, oomKill = a process was killed for it. */
  oom: number;
  oomKill: number;
  frozen?: boolean;
  populated?: boolean;
}

/** Parses the files a cgroup holds (name → text, undefined when absent). */
export function parseStats(files: Record<string, string | undefined>): CgroupStats {
  const memStat = parseKeyed(files['memory.stat']);
  const cpu = parseKeyed(files['cpu.stat']);
  const events = parseKeyed(files['memory.events']);
  const cg = parseKeyed(files['cgroup.events']);
  return {
    memory: {
      current: num(files['memory.current']),
      max: num(files['memory.max']),
      peak: num(files['memory.peak']),
      swap: num(files['memory.swap.current']),
      inactiveFile: memStat.get('inactive_file'),
      anon: memStat.get('anon'),
      file: memStat.get('file'),
    },
    cpu: {
      usageUsec: cpu.get('usage_usec'),
      userUsec: cpu.get('user_usec'),
      systemUsec: cpu.get('system_usec'),
      nrPeriods: cpu.get('nr_periods'),
      nrThrottled: cpu.get('nr_throttled'),
      throttledUsec: cpu.get('throttled_usec'),
    },
    pids: { current: num(files['pids.current']), max: num(files['pids.max']) },
    io: parseIoStat(files['io.stat'] ?? ''),
    oom: events.get('oom') ?? 0,
    oomKill: events.get('oom_kill') ?? 0,
    frozen: cg.has('frozen') ? cg.get('frozen') === 1 : undefined,
    populated: cg.has('populated') ? cg.get('populated') === 1 : undefined,
  };
}

/** Sums io.stat ("8:0 rbytes=… wbytes=… rios=… wios=…" per device) over every device. */
export function parseIoStat(text: string): CgroupStats['io'] {
  const io = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
  for (const m of text.matchAll(/\b(rbytes|wbytes|rios|wios)=(\d+)/g)) {
    const n = Number(m[2]);
    if (m[1] === 'rbytes') io.readBytes += n;
    else if (m[1] === 'wbytes') io.writeBytes += n;
    else if (m[1] === 'rios') io.readOps += n;
    else io.writeOps += n;
  }
  return io;
}

/** One sample of a container, for CPU % between two samples. */
export interface StatsSample {
  id: string;
  name: string;
  stats: CgroupStats;
  /** When the sample was read (ms) and when the container started (ms). */
  at: number;
  startedAt: number;
  /** Bytes through the container's network, when the caller knows them. */
  net?: { rx: number; tx: number };
  /** Host memory, the limit shown when memory.max is "max". */
  hostMemory: number;
}

/** A row with podman's JSON keys; every value a display string. */
export interface StatsRow {
  id: string;
  name: string;
  cpu_percent: string;
  mem_usage: string;
  mem_percent: string;
  net_io: string;
  block_io: string;
  pids: string;
  cpu_time: string;
  avg_cpu: string;
}

/** Builds a row; CPU % uses the previous sample when there is one, else the average. */
export function statsRow(now: StatsSample, previous?: StatsSample): StatsRow {
  const usage = now.stats.cpu.usageUsec;
  const uptimeUsec = Math.max(1, (now.at - now.startedAt) * 1000);
  const avg = usage === undefined ? undefined : (usage / uptimeUsec) * 100;
  let cpu = avg;
  const before = previous?.stats.cpu.usageUsec;
  if (usage !== undefined && before !== undefined && previous !== undefined && now.at > previous.at) {
    cpu = ((usage - before) / ((now.at - previous.at) * 1000)) * 100;
  }
  const m = now.stats.memory;
  const used = m.current === undefined ? undefined : Math.max(0, m.current - (m.inactiveFile ?? 0));
  const limit = m.max ?? now.hostMemory;
  return {
    id: now.id.slice(0, 12),
    name: now.name,
    cpu_percent: percent(cpu),
    mem_usage: used === undefined ? '--' : `${humanSize(used)} / ${humanSize(limit)}`,
    mem_percent: used === undefined ? '--' : percent((used / limit) * 100),
    net_io: now.net ? `${humanSize(now.net.rx)} / ${humanSize(now.net.tx)}` : '-- / --',
    block_io: `${humanSize(now.stats.io.readBytes)} / ${humanSize(now.stats.io.writeBytes)}`,
    pids: now.stats.pids.current === undefined ? '--' : String(now.stats.pids.current),
    cpu_time: usage === undefined ? '--' : formatDuration(usage),
    avg_cpu: percent(avg),
  };
}

const COLUMNS: [keyof StatsRow, string][] = [
  ['id', 'ID'],
  ['name', 'NAME'],
  ['cpu_percent', 'CPU %'],
  ['mem_usage', 'MEM USAGE / LIMIT'],
  ['mem_percent', 'MEM %'],
  ['net_io', 'NET IO'],
  ['block_io', 'BLOCK IO'],
  ['pids', 'PIDS'],
  ['cpu_time', 'CPU TIME'],
  ['avg_cpu', 'AVG CPU %'],
];

/** The table `hutch stats` prints: podman's columns, padded. */
export function renderStatsTable(rows: StatsRow[]): string {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => r[key].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('');
  return [line(COLUMNS.map(([, t]) => t)), ...rows.map((r) => line(COLUMNS.map(([k]) => r[k])))].join('\n') + '\n';
}

/** Decimal sizes with four significant digits, as podman prints them: 52.43MB, 1.049kB, 0B. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

/** A duration in microseconds the way Go prints one: 1.5s, 2m3.25s, 12.3ms. */
export function formatDuration(usec: number): string {
  if (usec < 1000) return `${usec}µs`;
  if (usec < 1_000_000) return `${Number((usec / 1000).toFixed(3))}ms`;
  const total = usec / 1_000_000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Number((total % 60).toFixed(6));
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

function percent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '--' : `${value.toFixed(2)}%`;
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return t === '' || t === 'max' ? undefined : Number(t);
}

/** Parses `key value` lines (cgroup.events, memory.events, cpu.stat) into a map. */
export function parseKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}
