import { describe, expect, it } from 'vitest';
import { isReservedName, isWhiteoutDevice, whiteoutTarget } from '../../../fuse/whiteout.js';
import { applyOverrideMode, formatOverrideStat, isPrivateXattr, parseOverrideStat } from '../../../fuse/xattr.js';
import { ENTRY_SIZE, listingSlice, packEntryHead, packFileInfo, packListing, packStat } from '../../../fuse/wire.js';
import { buildIndexedTree } from '../../../fuse/lookup.js';
import { InoMap, lowerAttr } from '../../../fuse/attr.js';
import { EntryKind, OPAQUE, type IndexEntry } from '../../../fuse/layer-index.js';

const e = (path: string, kind: EntryKind, over: Partial<IndexEntry> = {}): IndexEntry => ({
  path,
  kind,
  flags: 0,
  mode: 0o755,
  uid: 0,
  gid: 0,
  rdev: 0,
  size: 0,
  mtimeSec: 0,
  mtimeNsec: 0,
  link: '',
  xattrs: new Map(),
  ...over,
});

describe('whiteout and xattr rules', () => {
  it('recognises overlay whiteouts', () => {
    expect(whiteoutTarget('.wh.foo')).toBe('foo');
    expect(whiteoutTarget('.wh..wh..opq')).toBeUndefined();
    expect(whiteoutTarget('foo')).toBeUndefined();
    expect(isReservedName('.wh.x')).toBe(true);
    expect(isWhiteoutDevice(0o020000, 0)).toBe(true);
    expect(isWhiteoutDevice(0o020000, 259)).toBe(false);
  });

  it('hides its own xattrs and round-trips override_stat', () => {
    expect(['trusted.overlay.opaque', 'user.containers.override_stat', 'user.hutch.rdev'].every(isPrivateXattr)).toBe(
      true,
    );
    expect(isPrivateXattr('user.mime')).toBe(false);
    expect(isPrivateXattr('security.capability')).toBe(false);
    const v = formatOverrideStat({ uid: 1, gid: 2, mode: 0o100644 });
    expect(v.toString()).toBe('1:2:0100644');
    expect(parseOverrideStat(v)).toEqual({ uid: 1, gid: 2, mode: 0o100644 });
    expect(applyOverrideMode(0o100600, { uid: 0, gid: 0, mode: 0o4755 })).toBe(0o104755);
    expect(applyOverrideMode(0o100600, { uid: 0, gid: 0, mode: 0o020644 })).toBe(0o020644);
    expect(parseOverrideStat('junk')).toBeUndefined();
  });
});

describe('wire packing', () => {
  it('packs dirents 8-byte aligned and slices whole entries that fit', () => {
    const d = packListing([
      { name: 'abc', ino: 7, type: 0o040000 },
      { name: 'x'.repeat(20), ino: 8, type: 0o100000 },
      { name: '\xe9', ino: 9, type: 0o100000 },
    ]);
    expect([...d.ends]).toEqual([32, 80, 112]);
    expect(d.buf.readUInt32LE(20)).toBe(4);
    expect(d.buf.readUInt32LE(32 + 8)).toBe(2);
    expect(d.buf.subarray(80 + 24, 80 + 25)).toEqual(Buffer.from([0xe9]));
    expect(listingSlice(d, 0, 64)).toEqual([0, 32]);
    expect(listingSlice(d, 1, 4096)).toEqual([32, 112]);
    expect(listingSlice(d, 3, 4096)).toEqual([112, 112]);
    expect(listingSlice(d, 9, 4096)).toEqual([112, 112]);
  });

  it('puts node ids, timeouts and handle bits where libfuse reads them', () => {
    const entry = Buffer.alloc(ENTRY_SIZE);
    packStat(entry, 16, {
      ino: 9,
      mode: 0o100644,
      nlink: 1,
      uid: 1,
      gid: 2,
      rdev: 0,
      size: 3,
      blocks: 0,
      atimeSec: 0,
      atimeNsec: 0,
      mtimeSec: 0,
      mtimeNsec: 0,
      ctimeSec: 0,
      ctimeNsec: 0,
    });
    packEntryHead(entry, 5, 2.5);
    expect(entry.readBigUInt64LE(0)).toBe(5n);
    expect(entry.readBigUInt64LE(16 + 8)).toBe(9n);
    expect(entry.readDoubleLE(168)).toBe(2.5);
    const fi = packFileInfo(42, { keepCache: true, cacheReaddir: true });
    expect(fi.readUInt32LE(4)).toBe(0x44);
    expect(fi.readBigUInt64LE(16)).toBe(42n);
  });
});

describe('merged lower index', () => {
  it('applies whiteouts, opaque directories and hard links across layers', () => {
    const bottom = [
      e('a', EntryKind.Dir),
      e('a/x', EntryKind.File),
      e('a/y', EntryKind.File),
      e('o/old', EntryKind.File),
      e('h', EntryKind.File, { mode: 0o600, uid: 5 }),
      e('h2', EntryKind.Hardlink, { link: 'h' }),
    ];
    const top = [
      e('a/x', EntryKind.Whiteout),
      e('o', EntryKind.Dir, { flags: OPAQUE }),
      e('o/new', EntryKind.File),
      e('n/deep/f', EntryKind.File),
    ];
    const tree = buildIndexedTree([
      { dir: '/top', entries: top },
      { dir: '/bottom', entries: bottom },
    ]);
    expect([...tree.dir('a')!.keys()]).toEqual(['y']);
    expect([...tree.dir('o')!.keys()]).toEqual(['new']);
    expect([...tree.dir('')!.keys()].sort()).toEqual(['a', 'h', 'h2', 'n', 'o']);
    expect(tree.dir('n/deep')!.get('f')!.real).toBe('/top/n/deep/f');
    const h2 = tree.dir('')!.get('h2')!;
    expect([h2.real, h2.meta!.uid, h2.type]).toEqual(['/bottom/h', 5, 0o100000]);
    expect(tree.dir('gone')).toBeUndefined();
  });

  it('keys index paths as the tree does: relative, no trailing slash, UTF-8 bytes as latin1', () => {
    const tree = buildIndexedTree([
      {
        dir: '/l',
        entries: [e('./d/', EntryKind.Dir), e('/d/caf\u00e9', EntryKind.File), e('d/plain', EntryKind.File)],
      },
    ]);
    const latin1 = Buffer.from('caf\u00e9', 'utf8').toString('latin1');
    expect([...tree.dir('d')!.keys()].sort()).toEqual([latin1, 'plain'].sort());
    expect(tree.dir('d')!.get(latin1)!.real).toBe(`/l/d/${latin1}`);
    expect(tree.dir('')!.get('d')!.type).toBe(0o040000);
  });

  it('gives indexed entries their attributes without touching the disk, hard links one st_ino, numbers of their own', () => {
    const layer = [
      e('h', EntryKind.File, { mode: 0o4711, uid: 7, size: 1000, mtimeSec: 5, mtimeNsec: 6 }),
      e('d/h2', EntryKind.Hardlink, { link: 'h' }),
    ];
    const tree = buildIndexedTree([{ dir: '/nonexistent-layer', entries: layer }]);
    const inos = new InoMap(tree.numbered);
    const h = lowerAttr(tree.dir('')!.get('h')!, inos);
    const h2 = lowerAttr(tree.dir('d')!.get('h2')!, inos);
    expect([h.mode, h.uid, h.size, h.blocks, h.nlink, h.mtimeSec, h.mtimeNsec]).toEqual([
      0o104711, 7, 1000, 2, 2, 5, 6,
    ]);
    expect(h2.ino).toBe(h.ino);
    // Indexed entries take 2 .. 2 + numbered - 1 in every mount of the tree; the mount's own files the rest.
    expect(tree.numbered).toBe(2);
    expect(h.ino).toBeGreaterThanOrEqual(2);
    expect(h.ino).toBeLessThan(2 + tree.numbered);
    expect(new InoMap(tree.numbered).of(-1, 99)).toBe(2 + tree.numbered);
    expect(lowerAttr(tree.dir('')!.get('h')!, new InoMap(tree.numbered)).ino).toBe(h.ino);
    expect(tree.linksOf!(tree.dir('d')!.get('h2')!)!.sort()).toEqual(['d/h2', 'h']);
  });
});
