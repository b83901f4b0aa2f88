import { ENTRY_OUT_SIZE, listingSlice, packListing, type PackedDir } from './wire.js';
import type { Node } from './node.js';

/**
 * Directory listings without OPENDIR/RELEASEDIR (the kernel stops sending both once opendir
 * answers ENOSYS, and caches listings as if cache_readdir were set): two requests fewer a
 * directory. Without an open handle to hold a snapshot, the snapshot belongs to the directory:
 * a READDIR from offset 0 takes one (or reuses the last while nothing changed), and the offsets
 * it hands out name it (generation * 2^32 + entry index), so a reader part-way through keeps
 * its snapshot while entries are added or removed (busybox rm -r unlinks as it reads): every
 * entry once, as with a snapshot per open. Snapshots go with the node (a WeakMap); the last
 * KEPT of a directory are kept.
 */
/** What a listing holds: names, inode numbers and types (Union.list's entries). */
type Entries = Parameters<typeof packListing>[0];

const GEN = 2 ** 32;
/** A directory's type in a struct fuse_dirent (S_IFDIR >> 12). */
const DT_DIR = 4;
const KEPT = 8;
/** Generations wrap (offsets stay below 2^52): a reader would have to pause through a million. */
const GENS = 2 ** 20;

interface Snapshots {
  /** The newest generation, and whether the directory changed since it was taken. */
  gen: number;
  stale: boolean;
  byGen: Map<number, PackedDir>;
}

export class Listings {
  private readonly dirs = new WeakMap<Node, Snapshots>();
  /** How many entries went out with their attributes (a READDIRPLUS's), for the daemon's trace. */
  given = 0;
  /** READDIRPLUS replies are packed here: libfuse copies a reply before returning. */
  private plus = Buffer.alloc(0);

  /** Notes that entries of `dir` were added, removed or replaced: the next read from 0 lists again. */
  changed(dir: Node): void {
    const s = this.dirs.get(dir);
    if (s !== undefined) s.stale = true;
  }

  /**
   * The listing bytes of a READDIR at `off` of at most `size` bytes; `list` merges the directory.
   * `ended` gets the listing's end offset when these bytes hold its last entry: the kernel's next
   * READDIR of it asks from there, and its answer (nothing) can be given without JS.
   */
  read(dir: Node, off: number, size: number, list: () => Entries, ended?: (end: number) => void): Buffer {
    const [snap, index] = this.snapshot(dir, off, list);
    const [start, end] = listingSlice(snap, index, size);
    if (end === snap.buf.length && end > start) ended?.(snap.end);
    return snap.buf.subarray(start, end);
  }

  /**
   * The bytes of a READDIRPLUS at `off`: the entries READDIR would give, each headed by the
   * struct fuse_entry_out `entryOf` packs at the given place (a lookup the kernel counts) or by
   * zeros where it packs none ('.', '..', a name gone since the snapshot, anything but a
   * directory unless `filesToo`): the kernel then keeps the name alone and looks it up when
   * asked. `entryOf` is called only for entries that fit; `ended` as read's.
   */
  readPlus(
    dir: Node,
    off: number,
    size: number,
    list: () => Entries,
    filesToo: boolean,
    entryOf: (name: string, out: Buffer, at: number) => boolean,
    ended?: (end: number) => void,
  ): Buffer {
    const [snap, index] = this.snapshot(dir, off, list);
    if (this.plus.length < size) this.plus = Buffer.alloc(size);
    const out = this.plus;
    let at = 0;
    let i = index;
    for (; i < snap.ends.length; i++) {
      const start = i === 0 ? 0 : snap.ends[i - 1]!;
      const end = snap.ends[i]!;
      if (at + ENTRY_OUT_SIZE + end - start > size) break;
      const wanted = filesToo || snap.buf.readUInt32LE(start + 20) === DT_DIR;
      const name = wanted
        ? snap.buf.toString('latin1', start + 24, start + 24 + snap.buf.readUInt32LE(start + 16))
        : '';
      if (!wanted || name === '.' || name === '..' || !entryOf(name, out, at)) out.fill(0, at, at + ENTRY_OUT_SIZE);
      else this.given++;
      snap.buf.copy(out, at + ENTRY_OUT_SIZE, start, end);
      at += ENTRY_OUT_SIZE + end - start;
    }
    if (i === snap.ends.length && i > index) ended?.(snap.end);
    return out.subarray(0, at);
  }

  /** The snapshot an offset names (a new one from 0), and the index of its entry there. */
  private snapshot(dir: Node, off: number, list: () => Entries): [PackedDir, number] {
    const gen = Math.floor(off / GEN);
    let snap = off === 0 ? this.current(dir, list) : this.dirs.get(dir)?.byGen.get(gen);
    // Only after KEPT newer snapshots of a changed directory: list again, best effort.
    snap ??= packListing(list(), gen * GEN);
    return [snap, off - gen * GEN];
  }

  private current(dir: Node, list: () => Entries): PackedDir {
    let s = this.dirs.get(dir);
    const last = s?.byGen.get(s.gen);
    if (s !== undefined && !s.stale && last !== undefined) return last;
    if (s === undefined) this.dirs.set(dir, (s = { gen: 0, stale: false, byGen: new Map() }));
    else s.gen = (s.gen + 1) % GENS;
    s.stale = false;
    const snap = packListing(list(), s.gen * GEN);
    s.byGen.set(s.gen, snap);
    s.byGen.delete((s.gen - KEPT + GENS) % GENS);
    return snap;
  }
}
