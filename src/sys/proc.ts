import { readdirSync, readFileSync } from 'node:fs';

/**
 * The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot), or
 * undefined when it does not exist. A pid with the same start time is the same process: this is
 * how a record tells its container from a later process that got the pid again.
 */
export function processStartTime(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // a zombie has ended
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is still the process that started at `start`. */
export function isSameProcess(pid: number | undefined, start: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  const now = processStartTime(pid);
  return now !== undefined && (start === undefined || now === start);
}

/** Children of every process, from /proc/PID/stat (for `top`). */
export function processTable(procRoot = '/proc'): { pid: number; ppid: number }[] {
  const out: { pid: number; ppid: number }[] = [];
  for (const entry of readdirNumeric(procRoot)) {
    try {
      const stat = readFileSync(`${procRoot}/${entry}/stat`, 'utf8');
      out.push({ pid: entry, ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** `pid` and every process below it, with their parents (a container's processes, from its PID 1). */
export function processTree(pid: number, table = processTable()): { pid: number; ppid: number }[] {
  const inside = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) if (!inside.has(p.pid) && inside.has(p.ppid)) grew = inside.add(p.pid) !== undefined;
  }
  return table.filter((p) => inside.has(p.pid));
}

function readdirNumeric(dir: string): number[] {
  return readdirSync(dir)
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}
