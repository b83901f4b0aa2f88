// native/hutch-fs-pages.so's smaps rule (native/fs-pages.c), driven through koffi on sample text,
// and fuse/pages.ts's settings and fallbacks. The daemon's drops themselves: fuse-pages.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { droppableMappings, pageDropSettings, startPageDrops, DEFAULT_IDLE_MS } from '../../../fuse/pages.js';

const native = join(import.meta.dirname, '../../../native');
const library = join(native, 'hutch-fs-pages.so');
beforeAll(() => void execFileSync('make', ['-s', '-C', native, 'hutch-fs-pages.so']));

/** One smaps entry: a header and its fields (kB values), VmFlags last as the kernel writes it. */
function entry(header: string, fields: Record<string, number>, flags = 'rd ex mr mw me sd'): string {
  const lines = Object.entries(fields).map(([name, kb]) => `${`${name}:`.padEnd(16)}${String(kb).padStart(8)} kB`);
  return [header, ...lines, `VmFlags: ${flags}`].join('\n');
}

const clean = { Size: 1024, Rss: 512, Pss: 256, Anonymous: 0, Swap: 0, Locked: 0 };
const node = '04d37000-05223000 r-xp 0094a000 fe:00 260689                             /usr/bin/node';
const droppable = (text: string): { start: bigint; end: bigint; rss: number }[] => droppableMappings(text, library);
const starts = (text: string): bigint[] => droppable(text).map((m) => m.start);

describe("the library's smaps rule", () => {
  it('takes a clean read-only file mapping, with its bounds and resident size', () => {
    expect(droppable(entry(node, clean))).toEqual([{ start: 0x4d37000n, end: 0x5223000n, rss: 512 }]);
  });

  it("never a mapping with a 'w' permission, even with no anonymous page", () => {
    for (const perms of ['rw-p', 'rwxp', '-w-p', 'rw-s'])
      expect(droppable(entry(node.replace('r-xp', perms), clean))).toEqual([]);
  });

  it('never a mapping holding private copies (Anonymous > 0) or swapped-out pages', () => {
    const relro = '0563e000-0565d000 r--p 0523d000 fe:00 260689                             /usr/bin/node';
    expect(droppable(entry(relro, { ...clean, Anonymous: 4 }))).toEqual([]);
    expect(droppable(entry(node, { ...clean, Swap: 8 }))).toEqual([]);
  });

  it('never an anonymous mapping (inode 0), even read-only or executable (JIT code, the heap)', () => {
    for (const header of [
      '7f3462fc3000-7f3462fff000 r-xp 00000000 00:00 0 ',
      '278cd000-27ade000 r--p 00000000 00:00 0                                  [heap]',
      '7ffdb38f4000-7ffdb38f6000 r-xp 00000000 00:00 0                          [vdso]',
    ])
      expect(droppable(entry(header, clean))).toEqual([]);
  });

  it('leaves locked mappings, mappings with nothing resident, and entries missing a field', () => {
    expect(droppable(entry(node, clean, 'rd ex mr mw me lo sd'))).toEqual([]);
    expect(droppable(entry(node, clean, 'lo rd'))).toEqual([]);
    expect(droppable(entry(node, clean, 'rd ex lock'))).toHaveLength(1); // not the flag `lo`
    expect(droppable(entry(node, { ...clean, Rss: 0 }))).toEqual([]);
    const { Anonymous: _a, ...noAnonymous } = clean;
    expect(droppable(entry(node, noAnonymous))).toEqual([]);
    expect(droppable(`${node}\nRss: 512 kB\nAnonymous: 0 kB\nSwap: 0 kB`)).toEqual([]); // no VmFlags
    expect(droppable(entry(node, clean).replace(/Anonymous:\s+0 kB/, 'Anonymous: 0 MB'))).toEqual([]);
    expect(droppable(entry(node.replace(' 260689 ', ' 26x689 '), clean))).toEqual([]); // malformed header
  });

  it('judges each entry of a file on its own fields', () => {
    const lib = '7f3489c00000-7f3489c28000 r--p 00000000 fe:00 339500                     /usr/lib/libc.so.6';
    const text = [
      entry(node, clean),
      entry(lib, { ...clean, Anonymous: 8 }),
      entry(lib.replace('r--p', 'r-xp'), clean),
    ].join('\n');
    expect(starts(`${text}\n`)).toEqual([0x4d37000n, 0x7f3489c00000n]);
    expect(starts(text)).toEqual([0x4d37000n, 0x7f3489c00000n]); // the last line without its newline
  });

  it('reads a text longer than its 4 KiB buffer, lines across its edges, and a header longer than it', () => {
    const at = (i: number): string => (0x10000000 + i * 0x10000).toString(16);
    const many = Array.from({ length: 200 }, (_, i) =>
      entry(`${at(i)}-${at(i + 1)} r--p 00000000 fe:00 ${i + 1} /lib/x${i}.so`, { ...clean, Anonymous: i % 2 }),
    );
    const long = entry(`${at(300)}-${at(301)} r--p 00000000 fe:00 7 /${'d/'.repeat(3000)}x.so`, clean);
    const found = starts([...many, long, entry(node, clean)].join('\n'));
    const even = many.flatMap((_, i) => (i % 2 === 0 ? [BigInt(`0x${at(i)}`)] : []));
    expect(found).toEqual([...even, BigInt(`0x${at(300)}`), 0x4d37000n]);
  });

  it("finds this process's own node binary code and drops it without harm", () => {
    expect(droppable(readFileSync('/proc/self/smaps', 'latin1')).length).toBeGreaterThan(0);
    const warnings: string[] = [];
    // No watcher (0 ms): its thread would stay in this worker; the daemon's is tested in fuse-pages.
    expect(startPageDrops({ keep: false, idleMs: 0 }, (l) => warnings.push(l), library)).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(JSON.parse(JSON.stringify({ still: 'working' }))).toEqual({ still: 'working' });
  });
});

describe('the page drop settings', () => {
  const settings = (env: NodeJS.ProcessEnv): { keep: boolean; idleMs: number; warned: string[] } => {
    const warned: string[] = [];
    return { ...pageDropSettings(env, (l) => warned.push(l)), warned };
  };

  it('drops when idle by default; HUTCH_FS_IDLE_MS=0 turns that off, HUTCH_FS_PAGES=keep every drop', () => {
    expect(settings({})).toEqual({ keep: false, idleMs: DEFAULT_IDLE_MS, warned: [] });
    expect(settings({ HUTCH_FS_IDLE_MS: '0' })).toEqual({ keep: false, idleMs: 0, warned: [] });
    expect(settings({ HUTCH_FS_IDLE_MS: '250' })).toEqual({ keep: false, idleMs: 250, warned: [] });
    expect(settings({ HUTCH_FS_PAGES: 'keep' })).toMatchObject({ keep: true });
  });

  it('names a HUTCH_FS_IDLE_MS that is not a count of milliseconds and keeps the default', () => {
    for (const bad of ['1.5', '-1', 'soon', '99999999999']) {
      const got = settings({ HUTCH_FS_IDLE_MS: bad });
      expect(got.idleMs).toBe(DEFAULT_IDLE_MS);
      expect(got.warned).toEqual([expect.stringContaining(`HUTCH_FS_IDLE_MS=${bad} is not a count of milliseconds`)]);
    }
  });

  it('says once that the library cannot be loaded, and the loop reads with libfuse alone', () => {
    const warned: string[] = [];
    expect(startPageDrops({ keep: false, idleMs: 1000 }, (l) => warned.push(l), '/nonexistent/x.so')).toBeUndefined();
    expect(warned).toEqual([expect.stringMatching(/^cannot load \/nonexistent\/x\.so: .*keeps its start-up pages/)]);
    warned.length = 0; // not built: never a dlopen of a path relative to the working folder
    expect(startPageDrops({ keep: false, idleMs: 1000 }, (l) => warned.push(l), 'native/x.so')).toBeUndefined();
    expect(warned).toEqual([
      expect.stringMatching(/^cannot load native\/x\.so: a library path that is not absolute is never loaded/),
    ]);
    warned.length = 0; // not found in hutch's own folder
    expect(startPageDrops({ keep: false, idleMs: 1000 }, (l) => warned.push(l), undefined)).toBeUndefined();
    expect(warned).toEqual([expect.stringMatching(/^cannot load native\/hutch-fs-pages\.so: it is not built/)]);
  });
});
