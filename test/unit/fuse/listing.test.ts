import { describe, expect, it } from 'vitest';
import { Listings } from '../../../fuse/listing.js';
import type { DirEntry } from '../../../fuse/union.js';
import type { Node } from '../../../fuse/node.js';

const entries = (names: string[]): DirEntry[] => names.map((name, i) => ({ name, ino: i + 10, type: 0o100000 }));
/** The names and next offsets of the dirents in a READDIR reply. */
function decode(b: Buffer): [string, number][] {
  const out: [string, number][] = [];
  for (let at = 0; at < b.length;) {
    const len = b.readUInt32LE(at + 16);
    out.push([b.toString('latin1', at + 24, at + 24 + len), Number(b.readBigUInt64LE(at + 8))]);
    at += (24 + len + 7) & ~7;
  }
  return out;
}

describe('directory listings without open handles', () => {
  it('reuses the last snapshot until the directory changes, then starts a new generation', () => {
    const l = new Listings();
    const dir = {} as Node;
    let calls = 0;
    const list = (names: string[]) => () => (calls++, entries(names));
    expect(decode(l.read(dir, 0, 4096, list(['a', 'b'])))).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    l.read(dir, 0, 4096, list(['a', 'b']));
    expect(calls).toBe(1);
    l.changed(dir);
    expect(decode(l.read(dir, 0, 4096, list(['a', 'c'])))).toEqual([
      ['a', 2 ** 32 + 1],
      ['c', 2 ** 32 + 2],
    ]);
  });

  it('keeps a reader part-way through on its snapshot while entries are removed', () => {
    const l = new Listings();
    const dir = {} as Node;
    const names = Array.from({ length: 10 }, (_, i) => `name-${i}`);
    // 32 bytes a dirent: three a reply.
    const first = decode(l.read(dir, 0, 100, () => entries(names)));
    expect(first.map(([n]) => n)).toEqual(['name-0', 'name-1', 'name-2']);
    l.changed(dir);
    l.read(dir, 0, 100, () => entries(names.slice(3))); // another reader starts after the change
    const seen = first.map(([n]) => n);
    for (let off = first.at(-1)![1]; ;) {
      const got = decode(l.read(dir, off, 100, () => entries([])));
      if (got.length === 0) break;
      seen.push(...got.map(([n]) => n));
      off = got.at(-1)![1];
    }
    expect(seen).toEqual(names);
  });

  it('lists again when a snapshot is gone (more than 8 newer ones)', () => {
    const l = new Listings();
    const dir = {} as Node;
    const off = decode(l.read(dir, 0, 32, () => entries(['a', 'b'])))[0]![1];
    for (let i = 0; i < 9; i++) {
      l.changed(dir);
      l.read(dir, 0, 32, () => entries(['x']));
    }
    expect(decode(l.read(dir, off, 4096, () => entries(['a', 'b', 'c'])))).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
  });
});
