import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { droppableMappings, dropCleanFilePages } from '../../src/sys/pages.js';

/** One smaps entry: a header and its fields (kB values), VmFlags last as the kernel writes it. */
function entry(header: string, fields: Record<string, number>, flags = 'rd ex mr mw me sd'): string {
  const lines = Object.entries(fields).map(([name, kb]) => `${`${name}:`.padEnd(16)}${String(kb).padStart(8)} kB`);
  return [header, ...lines, `VmFlags: ${flags}`].join('\n');
}

const clean = { Size: 1024, Rss: 512, Pss: 256, Anonymous: 0, Swap: 0, Locked: 0 };
const node = '04d37000-05223000 r-xp 0094a000 fe:00 260689                             /usr/bin/node';

describe('droppableMappings', () => {
  it('takes a clean read-only file mapping, with its bounds and resident size', () => {
    expect(droppableMappings(entry(node, clean))).toEqual([{ start: 0x4d37000, end: 0x5223000, rss: 512 }]);
  });

  it("never a mapping with a 'w' permission, even with no anonymous page", () => {
    for (const perms of ['rw-p', 'rwxp', '-w-p', 'rw-s'])
      expect(droppableMappings(entry(node.replace('r-xp', perms), clean))).toEqual([]);
  });

  it('never a mapping holding private copies (Anonymous > 0) or swapped-out pages', () => {
    const relro = '0563e000-0565d000 r--p 0523d000 fe:00 260689                             /usr/bin/node';
    expect(droppableMappings(entry(relro, { ...clean, Anonymous: 4 }))).toEqual([]);
    expect(droppableMappings(entry(node, { ...clean, Swap: 8 }))).toEqual([]);
  });

  it('never an anonymous mapping (inode 0), even read-only or executable (JIT code, the heap)', () => {
    for (const header of [
      '7f3462fc3000-7f3462fff000 r-xp 00000000 00:00 0 ',
      '278cd000-27ade000 r--p 00000000 00:00 0                                  [heap]',
      '7ffdb38f4000-7ffdb38f6000 r-xp 00000000 00:00 0                          [vdso]',
    ])
      expect(droppableMappings(entry(header, clean))).toEqual([]);
  });

  it('leaves locked mappings, mappings with nothing resident, and entries missing a field', () => {
    expect(droppableMappings(entry(node, clean, 'rd ex mr mw me lo sd'))).toEqual([]);
    expect(droppableMappings(entry(node, { ...clean, Rss: 0 }))).toEqual([]);
    const { Anonymous: _a, ...noAnonymous } = clean;
    expect(droppableMappings(entry(node, noAnonymous))).toEqual([]);
    expect(droppableMappings(`${node}\nRss: 512 kB\nAnonymous: 0 kB\nSwap: 0 kB`)).toEqual([]); // no VmFlags
    expect(droppableMappings(entry(node, clean).replace(/Anonymous:\s+0 kB/, 'Anonymous: 0 MB'))).toEqual([]);
  });

  it('judges each entry of a file on its own fields', () => {
    const lib = '7f3489c00000-7f3489c28000 r--p 00000000 fe:00 339500                     /usr/lib/libc.so.6';
    const text = [
      entry(node, clean),
      entry(lib, { ...clean, Anonymous: 8 }),
      entry(lib.replace('r--p', 'r-xp'), clean),
    ].join('\n');
    expect(droppableMappings(`${text}\n`).map((m) => m.start)).toEqual([0x4d37000, 0x7f3489c00000]);
  });

  it("finds this process's own node binary code and drops it without harm", () => {
    const own = droppableMappings(readFileSync('/proc/self/smaps', 'latin1'));
    expect(own.length).toBeGreaterThan(0);
    const dropped = dropCleanFilePages();
    expect(dropped.mappings).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify({ still: 'working' }))).toEqual({ still: 'working' });
  });
});
