import { constants, linkSync, lstatSync, readdirSync, readlinkSync, statfsSync, type Stats } from 'node:fs';
import type { LowerEntry, LowerTree } from './lookup.js';
import { NodeTable, joinPath, noteSetgid, pathOf, type Node } from './node.js';
import { B, InoMap, fdAttr, lowerAttr, lowerIno, upperAttr } from './attr.js';
import { EBADF, ENOENT, ENOTDIR, FsError } from './errno.js';
import { isWhiteoutDevice, whiteoutTarget, WH_PREFIX } from './whiteout.js';
import { isOpaque, setTimes, type UpperStyle } from './upper.js';
import { copyUpEntry } from './copyup.js';
import { Listings } from './listing.js';
import type { Attr } from './wire.js';
import type { IdShift } from './idmap.js';
import { lstatRaw } from '../src/sys/stat.js';
import { privateCopy } from './copyup.js';
import { NodeFds } from './nodefd.js';
import { reachable } from '../src/sys/longpath.js';

/**
 * The union of read-only lower layers and one writable upper directory, with overlayfs
 * semantics: upper first, whiteouts and opaque directories hide what is below, copy-up on the
 * first change. This file resolves names, attributes, listings and open files; mutate.ts changes.
 */
export interface UnionConfig {
  lower: LowerTree;
  /**
   * The upper directory (writable layer) and a work directory on the same file system. The
   * daemon works from inside the upper directory (serve() makes it the cwd): upper paths are
   * relative to it, so a path inside the mount up to the kernel's 4095 bytes stays one the kernel
   * takes, however long the upper directory's own path.
   */
  upper: string;
  work: string;
  style: UpperStyle;
  /** Present every entry as owned by this uid/gid (fuse-overlayfs's squash_to_root/uid). */
  squash?: { uid: number; gid: number };
  /**
   * uidmapping=/gidmapping=: everything in here stays in disk ids; replies shift them to the
   * mount's (fastattr.ts), ids from the kernel are shifted back (setattr.ts, mutate.ts).
   */
  shift?: IdShift;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: number;
}

const S_IFDIR = 0o040000;

export class Union {
  readonly nodes: NodeTable;
  readonly inos: InoMap;
  readonly listings = new Listings();
  /** The fds files are read and written through (no OPEN: see nodefd.ts). */
  readonly fileFds = new NodeFds();
  /**
   * The name the request just before the current one looked up and found absent (the kernel's
   * lookup before a create): nothing ran in between, so creating it need not look again.
   */
  justMissed: { parent: Node; name: string } | undefined;
  /** Tells the kernel a node's cached attributes and data are stale (set once mounted). */
  invalidate: (nodeId: number) => void = () => undefined;

  constructor(readonly cfg: UnionConfig) {
    this.inos = new InoMap(cfg.lower.numbered);
    this.nodes = new NodeTable(undefined);
    this.nodes.root.lowerDir = !isOpaque('.');
    this.nodes.root.ino = 1;
    this.nodes.dropped = (n) => this.fileFds.forget(n);
  }

  node(id: number): Node {
    const n = this.nodes.get(id);
    if (n === undefined) throw new FsError(ENOENT, `no node ${id}`);
    return n;
  }

  /** A node's upper file, relative to the upper directory (the cwd). */
  upperPath(n: Node): string {
    const p = pathOf(n);
    return p === '' ? '.' : p;
  }

  /** The lower entry at parent/name, if the parent's lower listing shows through. */
  lowerAt(parent: Node, name: string): LowerEntry | undefined {
    return parent.lowerDir ? this.cfg.lower.dir(pathOf(parent))?.get(name) : undefined;
  }

  /** Resolves a name in a directory, from the cache or the layers; undefined when absent. */
  find(parent: Node, name: string): Node | undefined {
    if (parent.type !== S_IFDIR) throw new FsError(ENOTDIR);
    const cached = parent.children.get(name);
    if (cached !== undefined) return cached;
    if (name.startsWith(WH_PREFIX)) return undefined;
    const lower = this.lowerAt(parent, name);
    if (parent.upper) {
      const path = `${this.upperPath(parent)}/${name}`;
      // Not found is the common case here: no exception for it (they cost more than the syscall).
      const st = lstatRaw(path);
      if (st !== undefined) {
        if (isWhiteoutDevice(st.mode, st.rdev)) return undefined;
        // Only an empty regular file can be a device placeholder whose type is in override_stat.
        const type =
          (st.mode & 0o170000) === 0o100000 && st.size === 0
            ? upperAttr(path, this.inos).attr.mode & 0o170000
            : st.mode & 0o170000;
        const n = this.nodes.make(parent, name, type, true, lower);
        n.lowerDir = type === S_IFDIR && lower?.type === S_IFDIR && !isOpaque(path);
        return n;
      }
      if (
        lower !== undefined &&
        this.cfg.style.whiteoutFiles &&
        lstatQuiet(`${this.upperPath(parent)}/${WH_PREFIX}${name}`)
      )
        return undefined;
    }
    if (lower === undefined) return undefined;
    return this.nodes.make(parent, name, lower.type, false, lower);
  }

  /** Like find, but ENOENT when absent. */
  child(parent: Node, name: string): Node {
    const n = this.find(parent, name);
    if (n === undefined) throw new FsError(ENOENT);
    return n;
  }

  attr(n: Node): Attr {
    let a: Attr;
    const kept = n.detached ? this.fileFds.any(n) : undefined;
    if (kept !== undefined) a = fdAttr(kept, this.inos);
    else if (n.detached && n.upper) throw new FsError(ENOENT);
    else if (n.upper) {
      const got = upperAttr(this.upperPath(n), this.inos, n.plain, this.creatorFd(n));
      a = got.attr;
      n.plain = got.plain;
    } else a = lowerAttr(n.lower!, this.inos);
    if (n.ino === 0) n.ino = a.ino;
    a.ino = n.ino;
    if (this.cfg.squash !== undefined) {
      a.uid = this.cfg.squash.uid;
      a.gid = this.cfg.squash.gid;
    }
    noteSetgid(n, a.mode, a.gid);
    return a;
  }

  /** The merged listing of a directory: upper entries, then lower ones not hidden. */
  list(dir: Node): DirEntry[] {
    const out = new Map<string, DirEntry>();
    const hidden = new Set<string>();
    if (dir.upper) {
      const base = this.upperPath(dir);
      for (const raw of readdirSync(B(base), { encoding: 'buffer' }) as Buffer[]) {
        const name = raw.toString('latin1');
        const target = whiteoutTarget(name);
        if (target !== undefined) hidden.add(target);
        if (name.startsWith(WH_PREFIX)) continue;
        const st = lstatQuiet(`${base}/${name}`);
        if (st === undefined) continue;
        if (isWhiteoutDevice(st.mode, st.rdev)) hidden.add(name);
        else out.set(name, { name, ino: this.inos.of(-1, st.ino), type: st.mode & 0o170000 });
      }
    }
    if (dir.lowerDir) {
      const listing = this.cfg.lower.dir(pathOf(dir));
      for (const [name, e] of listing ?? []) {
        if (out.has(name) || hidden.has(name)) continue;
        out.set(name, { name, ino: lowerIno(e, this.inos), type: e.type });
      }
    }
    for (const [name, n] of dir.children) {
      const e = out.get(name);
      if (e !== undefined && n.ino !== 0) e.ino = n.ino;
    }
    return [...out.values()];
  }

  readlink(n: Node): Buffer {
    if (n.upper) return readlinkSync(B(this.upperPath(n)), { encoding: 'buffer' });
    const link = n.lower!.meta?.link;
    if (link !== undefined && link !== '') return Buffer.from(link);
    return readlinkSync(B(reachable(n.lower!.real)), { encoding: 'buffer' });
  }

  /**
   * The fd a file's data is read (or written) through, opened at first use (nodefd.ts). A write
   * copies a lower file up first; a lower file unlinked while open is written in a private copy
   * of it in the work directory, as overlayfs's copy-up at open would have left it.
   */
  fileFd(n: Node, write: boolean): number {
    const fd = this.fileFds.cached(n, write);
    if (fd !== undefined) return fd;
    if (n.detached) return this.detachedFd(n, write);
    if (write) this.copyUp(n);
    return this.fileFds.open(n, n.upper ? this.upperPath(n) : reachable(n.lower!.real), write, n.upper);
  }

  private detachedFd(n: Node, write: boolean): number {
    if (n.upper) throw new FsError(EBADF, `${n.name}: unlinked, and its data was not kept open`);
    if (!write) return this.fileFds.open(n, reachable(n.lower!.real), false, false);
    const copy = privateCopy(this.cfg.work, reachable(n.lower!.real));
    this.fileFds.adopt(n, copy, constants.O_RDWR, true);
    this.fileFds.pin(n);
    return copy;
  }

  /** An fd open on a node's upper file, if one is at hand (saves a path walk). */
  creatorFd(n: Node): number | undefined {
    return n.upper ? this.fileFds.cached(n, false) : undefined;
  }

  /**
   * Before a file loses a name while the kernel knows it (it may be open in some process): its
   * upper data stays reachable through an fd kept until FORGET. A lower file stays where it is.
   */
  keepReachable(n: Node): void {
    if (n.type !== 0o100000 || n.nlookup === 0 || !n.upper) return;
    if (!this.fileFds.has(n)) {
      try {
        this.fileFds.open(n, this.upperPath(n), true, true);
      } catch {
        this.fileFds.open(n, this.upperPath(n), false, true);
      }
    }
    this.fileFds.pin(n);
  }

  /** Makes a lower entry's node exist in the upper layer (its parents first); without its data before a truncation to 0. */
  copyUp(n: Node, withData = true): void {
    if (n.upper) return;
    if (n.parent !== undefined) this.copyUp(n.parent);
    const attr = this.attr(n);
    const dest = this.upperPath(n);
    const dir = n.parent === undefined ? undefined : this.upperPath(n.parent);
    keepingTimes(dir, () => copyUpEntry(this.cfg.style, this.cfg.work, n.lower!, attr, dest, withData));
    this.inos.alias(-1, lstatSync(B(dest)).ino, n.ino);
    n.upper = true;
    if (n.type === 0o100000) this.copyUpLinks(n, dest);
  }

  /**
   * overlayfs's index=on: the other names of a hard-linked lower file become hard links of its
   * upper copy, so that they stay one file (indexed layers, where the index knows the names).
   */
  private copyUpLinks(n: Node, dest: string): void {
    const paths = this.cfg.lower.linksOf?.(n.lower!);
    if (paths === undefined) return;
    const self = pathOf(n);
    for (const p of paths) {
      if (p === self) continue;
      const other = this.resolve(p);
      if (other === undefined || other.upper || other.lower?.meta !== n.lower!.meta) continue;
      this.copyUp(other.parent!);
      keepingTimes(this.upperPath(other.parent!), () => linkSync(B(dest), B(this.upperPath(other))));
      other.upper = true;
      other.ino = n.ino;
      if (other.nlookup > 0) this.invalidate(other.id);
    }
  }

  /** The node at a union path, if it is there (hidden names give undefined). */
  private resolve(path: string): Node | undefined {
    let n: Node | undefined = this.nodes.root;
    for (const part of path.split('/')) {
      if (n === undefined || n.type !== 0o040000) return undefined;
      n = this.find(n, part);
    }
    return n;
  }

  statfs(): { bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number } {
    return statfsSync('.');
  }

  joinChild(parent: Node, name: string): string {
    return joinPath(this.upperPath(parent), name);
  }
}

/**
 * Runs `change` in the upper directory `dir` (none: the root's own copy-up) and puts the
 * directory's times back. A copy-up is not a change of its directory, as in overlayfs: a listing's
 * attributes and a lookup's then agree with what the kernel cached before it.
 */
function keepingTimes(dir: string | undefined, change: () => void): void {
  const before = dir === undefined ? undefined : lstatRaw(dir);
  change();
  if (before !== undefined) setTimes(dir!, [before.atimeSec, before.atimeNsec], [before.mtimeSec, before.mtimeNsec]);
}

function lstatQuiet(path: string): Stats | undefined {
  return lstatSync(B(path), { throwIfNoEntry: false });
}
