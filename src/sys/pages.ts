import { readFileSync } from 'node:fs';
import { check, libcFunction } from './libc.js';

/**
 * Drops a process's clean pages of read-only file mappings (the node binary's code and V8's
 * start-up snapshot, mostly: a Node process touches ~30 MiB of them while it starts, and an idle
 * daemon none). madvise(MADV_DONTNEED) only unmaps them: the page cache keeps them and a later
 * touch maps them back with a minor fault, so nothing is lost. It would lose data in a mapping
 * holding private copies (a written or relocated page: `Anonymous` > 0) or swapped-out ones, so
 * only mappings without a 'w' and with neither are eligible, read from /proc/self/smaps just
 * before. Nothing unmaps or re-protects the libraries of a running Node process, so the mappings
 * stay as read while the calls run.
 */
const madviseC = libcFunction('int madvise(uintptr_t addr, size_t length, int advice)');
const MADV_DONTNEED = 4;

/** A mapping whose resident pages may be dropped: [start, end) and its resident KiB when read. */
export interface DroppableMapping {
  start: number;
  end: number;
  rss: number;
}

/**
 * One smaps entry: its header (start, end, perms, inode) and, in the kernel's order and without
 * crossing into the next entry (a line starting with an address), Rss, Anonymous, Swap and
 * VmFlags. A regular expression, not a loop over lines: it runs as native code from the first
 * call, where a cold JS loop over ~100 KB took the daemon ~15 ms of CPU at every start.
 */
const ENTRY = new RegExp(
  [
    '^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][ps]) [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\\d+)[^\\n]*\\n',
    ...['Rss', 'Anonymous', 'Swap'].map((f) => `(?:(?![0-9a-f]+-)[^\\n]*\\n)*?${f}: +(\\d+) kB\\n`),
    '(?:(?![0-9a-f]+-)[^\\n]*\\n)*?VmFlags:([^\\n]*)',
  ].join(''),
  'gm',
);

/**
 * The mappings of a smaps text that are safe to drop: file-backed (an inode), no 'w' permission,
 * every resident page a clean file page (`Anonymous: 0 kB`, `Swap: 0 kB`), not locked (VmFlags
 * without `lo`), something resident. An entry missing one of these fields is left alone.
 */
export function droppableMappings(smaps: string): DroppableMapping[] {
  const found: DroppableMapping[] = [];
  for (const [, start, end, perms, inode, rss, anonymous, swap, flags] of smaps.matchAll(ENTRY)) {
    if (perms!.includes('w') || inode === '0' || anonymous !== '0' || swap !== '0' || rss === '0') continue;
    if (flags!.split(' ').includes('lo')) continue;
    const [from, to] = [Number.parseInt(start!, 16), Number.parseInt(end!, 16)];
    if (to <= Number.MAX_SAFE_INTEGER) found.push({ start: from, end: to, rss: Number(rss) });
  }
  return found;
}

/** What dropCleanFilePages did: how many mappings, how many KiB were resident in them. */
export interface PagesDropped {
  mappings: number;
  kib: number;
}

/** Drops this process's clean read-only file pages (see above); throws SysError if madvise fails. */
export function dropCleanFilePages(): PagesDropped {
  const mappings = droppableMappings(readFileSync('/proc/self/smaps', 'latin1'));
  let kib = 0;
  for (const m of mappings) {
    check(
      'madvise',
      madviseC(m.start, m.end - m.start, MADV_DONTNEED) as number,
      `[${m.start.toString(16)}, ${m.end.toString(16)})`,
    );
    kib += m.rss;
  }
  return { mappings: mappings.length, kib };
}
