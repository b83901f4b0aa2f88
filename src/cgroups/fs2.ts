import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupError, describeCause } from '../errors.js';
import type { CgroupWrite } from './resources.js';
import { parseKeyed, parseStats, type CgroupStats } from './stats.js';

/**
 * The cgroup v2 interface files of one cgroup directory (an absolute path under the cgroup2
 * mount). Everything here is plain file I/O on a subtree the user owns.
 */

/** Reads a cgroup file, or undefined when it does not exist (a controller not enabled). */
export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

export function writeCgroupFile(dir: string, file: string, value: string, step: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (error) {
    throw new CgroupError(
      'CGROUP_WRITE_FAILED',
      `cannot ${step}: writing ${JSON.stringify(value)} to ${join(dir, file)}: ${describeCause(error)}`,
      {
        cause: error,
        hint: 'check the value against the kernel documentation (Documentation/admin-guide/cgroup-v2.rst) and that the cgroup is delegated to you',
      },
    );
  }
}

export function makeCgroup(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new CgroupError('CGROUP_CREATE_FAILED', `cannot create cgroup ${dir}: ${describeCause(error)}`, {
      cause: error,
      hint: 'the parent cgroup must be delegated to you (owned by your user)',
    });
  }
}

export function controllers(dir: string): string[] {
  return (readCgroupFile(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter((c) => c !== '');
}

export function procs(dir: string): number[] {
  return (readCgroupFile(dir, 'cgroup.procs') ?? '')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

/** Moves a process (and, as the kernel does, not its threads' other groups) into `dir`. */
export function moveProcess(dir: string, pid: number): void {
  writeCgroupFile(dir, 'cgroup.procs', String(pid), `move process ${pid} into its cgroup`);
}

/**
 * Enables each wanted controller that `dir` offers in its cgroup.subtree_control, one at a time
 * so one refusal does not hide the others. Returns the controllers enabled.
 */
export function enableControllers(dir: string, wanted: string[]): string[] {
  const offered = controllers(dir);
  const enabled: string[] = [];
  for (const c of wanted.filter((x) => offered.includes(x))) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
      enabled.push(c);
    } catch {
      // cpuset or a controller with threaded users may refuse; the caller warns for what is missing.
    }
  }
  return enabled;
}

/** Applies writes in order; a failed write names the file and the value. */
export function applyWrites(dir: string, writes: CgroupWrite[]): void {
  for (const w of writes) writeCgroupFile(dir, w.file, w.value, `set ${w.setting}`);
}

/** Reads `key value` lines (cgroup.events, memory.events, cpu.stat) into a map. */
export function readKeyed(dir: string, file: string): Map<string, number> {
  return parseKeyed(readCgroupFile(dir, file));
}

/** Freezes (or thaws) a cgroup and waits until the kernel reports it done. */
export async function setFrozen(dir: string, frozen: boolean, timeoutMs = 20_000): Promise<void> {
  writeCgroupFile(dir, 'cgroup.freeze', frozen ? '1' : '0', frozen ? 'freeze the container' : 'thaw the container');
  const want = frozen ? 1 : 0;
  await waitFor(
    () => readKeyed(dir, 'cgroup.events').get('frozen') === want,
    timeoutMs,
    `${frozen ? 'freeze' : 'thaw'} ${dir}`,
  );
}

/**
 * SIGKILLs every process in the cgroup and its children, so none escapes by forking
 * (cgroup.kill, Linux 5.14); before 5.14, freeze, kill each listed process, thaw, repeat.
 */
export async function killAll(dir: string, timeoutMs = 20_000): Promise<void> {
  if (existsSync(join(dir, 'cgroup.kill'))) {
    writeCgroupFile(dir, 'cgroup.kill', '1', 'kill the container');
  } else {
    await setFrozen(dir, true, timeoutMs);
    for (const pid of allProcs(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await setFrozen(dir, false, timeoutMs);
  }
  await waitFor(() => readKeyed(dir, 'cgroup.events').get('populated') !== 1, timeoutMs, `empty ${dir}`);
}

/** Every process in the cgroup and below. */
export function allProcs(dir: string): number[] {
  return [...procs(dir), ...childCgroups(dir).flatMap((c) => allProcs(join(dir, c)))];
}

export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Removes a cgroup and its empty children, deepest first. Missing is fine. */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const child of childCgroups(dir)) removeCgroup(join(dir, child));
  try {
    rmdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CgroupError('CGROUP_REMOVE_FAILED', `cannot remove cgroup ${dir}: ${describeCause(error)}`, {
      cause: error,
      hint: 'a process is still inside it: list it with `cat ' + join(dir, 'cgroup.procs') + '`',
    });
  }
}

/** The cgroup's accounting: memory, cpu, pids, io and OOM kills. */
export function readStats(dir: string): CgroupStats {
  const files = [
    'memory.current',
    'memory.max',
    'memory.peak',
    'memory.stat',
    'memory.events',
    'memory.swap.current',
    'cpu.stat',
    'pids.current',
    'pids.max',
    'io.stat',
    'cgroup.events',
  ];
  return parseStats(Object.fromEntries(files.map((f) => [f, readCgroupFile(dir, f)])));
}

async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; !done(); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) {
      throw new CgroupError('CGROUP_TIMEOUT', `cannot ${what}: still not done after ${timeoutMs} ms`, {
        hint: "a process may be stuck in the kernel (D state): see `ps -o pid,stat,wchan` for the cgroup's processes",
      });
    }
    await sleep(delay);
  }
}
