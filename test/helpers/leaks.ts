// After each test: no process the test started is left, no mount appeared in the test's own mount
// namespace, and hutch left no runtime files. Containers live in namespaces of their own, so a
// leaked container shows as a leaked process (hutch-nsexec or a descendant of the test).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

// Other checkouts' suites may run at the same time on a developer's machine: only ours count.
const HELPER = join(import.meta.dirname, '..', '..', 'native', 'hutch-nsexec');

export interface LeakSnapshot {
  mounts: string[];
  /** Processes that already existed (vitest's own helpers among them). */
  pids: Set<number>;
}

export function leakSnapshot(): LeakSnapshot {
  return { mounts: mounts(), pids: new Set(leakedProcesses().map((p) => Number(p.split(' ')[0]))) };
}

/** Asserts nothing leaked since `before`; `runtimeDirs` must hold no container leftovers. */
export async function expectNoLeaks(before: LeakSnapshot, runtimeDirs: string[] = []): Promise<void> {
  // Processes that just exited may not be reaped yet; let them settle briefly (not a timing assert).
  const fresh = (): string[] => leakedProcesses().filter((p) => !before.pids.has(Number(p.split(' ')[0])));
  let left = fresh();
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await sleep(40);
    left = fresh();
  }
  expect(left, 'processes left behind').toEqual([]);
  expect(
    mounts().filter((m) => !before.mounts.includes(m)),
    'mounts left behind',
  ).toEqual([]);
  for (const dir of runtimeDirs) {
    for (const folder of [`${dir}/containers`, `${dir}/ephemeral`]) {
      expect(existsSync(folder) ? readdirSync(folder) : [], `files left in ${folder}`).toEqual([]);
    }
  }
}

/** Mounts in this namespace, but another `npm test` run's shared store (its test bed mounts one). */
function mounts(): string[] {
  const ours = process.env.HUTCH_TEST_SHARED;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(3, 5).join(' '))
    .filter(
      (m) => !/ \/tmp\/hutch-test-run\.[^/]+\/shared\//.test(m) || (ours !== undefined && m.includes(` ${ours}/`)),
    );
}

/** Descendants of this test process, and any hutch-nsexec of this checkout run by this user. */
function leakedProcesses(): string[] {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
      commands.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // exited while we looked
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  const me = process.getuid?.();
  return [...parents.keys()]
    .filter(
      (pid) => pid !== process.pid && (isDescendant(pid) || (commands.get(pid)?.includes(HELPER) && ownedBy(pid, me))),
    )
    .map((pid) => `${pid} ${commands.get(pid)}`);
}

function ownedBy(pid: number, uid: number | undefined): boolean {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').includes(`\nUid:\t${uid}\t`);
  } catch {
    return false;
  }
}
