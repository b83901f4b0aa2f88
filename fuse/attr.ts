import type { Attr } from './wire.js';
import type { LowerEntry } from './lookup.js';
import type { IndexEntry } from './layer-index.js';
import { applyOverrideMode, OVERRIDE_STAT, parseOverrideStat, RDEV_XATTR } from './xattr.js';
import { lgetxattr, fgetxattr } from '../src/sys/xattr.js';
import { fstatRaw, lstatRaw } from '../src/sys/stat.js';
import { ENOENT, FsError } from './errno.js';
import { reachable } from '../src/sys/longpath.js';

/**
 * Attributes of union entries: the upper layer's from lstat (and override_stat when the owner
 * could not be stored), the lower layers' from their index (or lstat and override_stat in the
 * standalone mode). st_ino numbers come from one table so that they stay stable for the life of
 * the mount: across copy-up, and equal for hard links.
 */
export class InoMap {
  private readonly map = new Map<number | string, number>();
  private next: number;
  /**
   * The lower entries' attributes, computed once (lower layers never change): kept with the table
   * whose numbers they carry. The shared daemon's mounts of one image share its lower tree, each
   * with a table of its own; attributes kept with the entries would give a mount another's numbers,
   * which its own new files then get too.
   */
  readonly lowerAttrs = new WeakMap<LowerEntry, Attr>();
  /** Attributes from lstat alone (a readdir's d_ino), until lowerAttrs has the entry. */
  readonly lowerStats = new WeakMap<LowerEntry, Attr>();

  /** `reserved`: the lower tree's numbered entries (LowerTree.numbered) take 2 .. 2 + reserved - 1. */
  constructor(reserved: number) {
    this.next = 2 + reserved;
  }

  /** The reported inode number of a file: `layer` -1 for the upper layer, else the lower's. */
  of(layer: number, ino: number): number {
    const key = this.key(layer, ino);
    let out = this.map.get(key);
    if (out === undefined) {
      out = this.next++;
      this.map.set(key, out);
    }
    return out;
  }

  /** A number for an entry without a file (an index-only device node). */
  fresh(): number {
    return this.next++;
  }

  /** The number of an indexed lower entry, from its number in the tree (LowerEntry.number). */
  ofIndexed(number: number): number {
    return 2 + number;
  }

  /** Makes a file report `ino` (the upper copy of a lower file keeps its number). */
  alias(layer: number, fileIno: number, ino: number): void {
    this.map.set(this.key(layer, fileIno), ino);
  }

  // A number key while it stays exact (inode numbers below 2^45, up to 127 layers): no strings.
  private key(layer: number, ino: number): number | string {
    return ino < 2 ** 45 && layer < 127 ? ino * 128 + layer + 1 : `${layer}:${ino}`;
  }
}

export const B = (s: string): Buffer => Buffer.from(s, 'latin1');

function override(a: Attr, value: Buffer | undefined, rdev: () => Buffer | undefined): Attr {
  const o = value === undefined ? undefined : parseOverrideStat(value);
  if (o === undefined) return a;
  a.uid = o.uid;
  a.gid = o.gid;
  a.mode = applyOverrideMode(a.mode, o);
  const t = a.mode & 0o170000;
  if (t === 0o020000 || t === 0o060000) {
    a.rdev = Number(rdev()?.toString() ?? 0);
    a.size = 0;
  }
  return a;
}

/**
 * Attributes of an upper-layer file by path; `inos` gives its st_ino. `plain`: the file is known
 * to carry no override_stat (then it is not read). Says whether it is plain.
 */
export function upperAttr(path: string, inos: InoMap, plain = false, fd?: number): { attr: Attr; plain: boolean } {
  // An open fd of the file (its creator's) saves the path walk.
  const a = fd === undefined ? lstatRaw(path) : fstatRaw(fd);
  if (a === undefined) throw new FsError(ENOENT);
  a.ino = inos.of(-1, a.ino);
  if (plain) return { attr: a, plain };
  const value = quiet(() => lgetxattr(path, OVERRIDE_STAT));
  return { attr: override(a, value, () => quiet(() => lgetxattr(path, RDEV_XATTR))), plain: value === undefined };
}

/** Attributes of an open upper-layer file (an unlinked one, say). */
export function fdAttr(fd: number, inos: InoMap): Attr {
  const a = fstatRaw(fd);
  a.ino = inos.of(-1, a.ino);
  return override(
    a,
    quiet(() => fgetxattr(fd, OVERRIDE_STAT)),
    () => undefined,
  );
}

/**
 * A lower entry's attributes from lstat alone (enough for readdir's d_ino), computed once. An
 * indexed entry needs no system call at all: its index says everything.
 */
function lowerStat(e: LowerEntry, inos: InoMap): Attr {
  const stats = inos.lowerStats;
  let a = stats.get(e);
  if (a !== undefined) return a;
  if (e.meta !== undefined && e.number !== undefined) {
    a = indexedStat(e, e.meta, inos.ofIndexed(e.number));
    stats.set(e, a);
    return a;
  }
  // lstat(2) itself, not fs.lstatSync: its times in milliseconds as doubles lose nanoseconds, and
  // a copy-up would then give the upper copy other times than the lower's.
  const st = lstatRaw(reachable(e.real));
  if (st !== undefined) a = { ...st, ino: inos.of(e.layer, st.ino) };
  else a = { ...lstatRaw('/')!, ino: inos.fresh(), size: 0, blocks: 0, nlink: 1 };
  stats.set(e, a);
  return a;
}

/**
 * The st_ino of a lower entry, without reading its xattrs (readdir of entries never looked up); an
 * indexed one's is its index entry's number (a listing's entries need no attributes made).
 */
export function lowerIno(e: LowerEntry, inos: InoMap): number {
  if (e.number !== undefined) return inos.ofIndexed(e.number);
  return (inos.lowerAttrs.get(e) ?? lowerStat(e, inos)).ino;
}

/** Attributes from an index entry; `ino` its number (hard links share the entry, hence the st_ino). */
function indexedStat(e: LowerEntry, m: IndexEntry, ino: number): Attr {
  const size =
    e.type === 0o100000 ? m.size : e.type === 0o120000 ? Buffer.byteLength(m.link) : e.type === 0o040000 ? 4096 : 0;
  return {
    ino,
    mode: e.type | (m.mode & 0o7777),
    nlink: e.type === 0o040000 ? 2 : (e.nlink ?? 1),
    uid: m.uid,
    gid: m.gid,
    rdev: m.rdev,
    size,
    blocks: Math.ceil(size / 512),
    atimeSec: m.mtimeSec,
    atimeNsec: m.mtimeNsec,
    mtimeSec: m.mtimeSec,
    mtimeNsec: m.mtimeNsec,
    ctimeSec: m.mtimeSec,
    ctimeNsec: m.mtimeNsec,
  };
}

/** The cached attributes of a lower entry, shared: read them, never change them. */
export function lowerAttrShared(e: LowerEntry, inos: InoMap): Readonly<Attr> {
  return inos.lowerAttrs.get(e) ?? (lowerAttr(e, inos), inos.lowerAttrs.get(e)!);
}

/** Attributes of a lower entry, computed once: lower layers never change. */
export function lowerAttr(e: LowerEntry, inos: InoMap): Attr {
  const hit = inos.lowerAttrs.get(e);
  if (hit !== undefined) return { ...hit };
  let a: Attr = { ...lowerStat(e, inos) };
  inos.lowerStats.delete(e);
  const m = e.meta;
  if (m !== undefined) {
    a.mode = e.type | (m.mode & 0o7777);
    a.uid = m.uid;
    a.gid = m.gid;
    a.rdev = m.rdev;
    a.mtimeSec = m.mtimeSec;
    a.mtimeNsec = m.mtimeNsec;
    if (e.type === 0o020000 || e.type === 0o060000) a.size = 0;
  } else
    a = override(
      a,
      quiet(() => lgetxattr(reachable(e.real), OVERRIDE_STAT)),
      () => quiet(() => lgetxattr(reachable(e.real), RDEV_XATTR)),
    );
  inos.lowerAttrs.set(e, a);
  return { ...a };
}

function quiet<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
