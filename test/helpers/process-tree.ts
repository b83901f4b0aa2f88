// Processes as /proc shows them, for fault tests: who descends from whom, whether a process is
// stopped (a HUTCH_FAULT=STEP:stop reached its step), whether a process is still the same one.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  pid: number;
  /** Start time in clock ticks (tells a reused pid). */
  start: number;
  command: string;
}

function stat(pid: number): { state: string; ppid: number; start: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it. */
export function processTree(pid: number): Proc[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s !== undefined) children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(entry)]);
  }
  const out: Proc[] = [];
  const visit = (p: number): void => {
    const s = stat(p);
    if (s === undefined) return;
    let command = '';
    try {
      command = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      // gone meanwhile
    }
    out.push({ pid: p, start: s.start, command });
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}

/** Whether the process still runs (a zombie or a reused pid does not count). */
export function alive(p: Proc): boolean {
  const s = stat(p.pid);
  return s !== undefined && s.start === p.start && s.state !== 'Z' && s.state !== 'X';
}

/** Waits until `pid` is stopped (state T); false when it exited or `ms` passed. */
export async function waitStopped(pid: number, ms = 60_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
    const s = stat(pid);
    if (s === undefined || s.state === 'Z') return false;
    if (s.state === 'T') return true;
  }
  return false;
}

/** The processes of `procs` still running after a short settling time (reaping is not instant). */
export async function survivors(procs: Proc[]): Promise<Proc[]> {
  for (let i = 0; i < 100; i++) {
    if (!procs.some(alive)) return [];
    await sleep(50);
  }
  return procs.filter(alive);
}
