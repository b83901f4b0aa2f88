import {
  closeSync,
  linkSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  statfsSync,
  constants,
  type Stats,
} from 'node:fs';
import type { LowerEntry, LowerTree } from './lookup.js';
import { NodeTable, joinPath, noteSetgid, pathOf, type Node } from './node.js';
import { B, InoMap, fdAttr, lowerAttr, lowerIno, upperAttr } from './attr.js';
import { EBADF, ENOENT, ENOTDIR, FsError } from './errno.js';
import { isWhiteoutDevice, whiteoutTarget, WH_PREFIX } from './whiteout.js';
import { isOpaque, type UpperStyle } from './upper.js';
import { copyUpEntry } from './copyup.js';
import { Listings } from './listing.js';
import type { Attr } from './wire.js';
import type { IdShift } from './idmap.js';
import { lstatRaw } from '../src/sys/stat.js';
import { closeFd, openPath } from '../src/sys/fdops.js';
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

export interface Handle {
  node: Node;
  fd: number;
  flags: number;
  /** The node's copy-up generation the fd was opened at (-1: an upper fd, never stale). */
  gen: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: number;
}

const S_IFDIR = 0o040000;

export class Union {
  readonly nodes: NodeTable;
  readonly inos = new InoMap();
  readonly handles = new Map<number, Handle>();
  readonly listings = new Listings();
  /** The fd create() opened on a node's new upper file, while open: attributes by fstat. */
  private readonly creatorFds = new Map<Node, number>();
  private nextFh = 1;
  /**
   * The name the request just before the current one looked up and found absent (the kernel's
   * lookup before a create): nothing ran in between, so creating it need not look again.
   */
  justMissed: { parent: Node; name: string } | undefined;
  /** Tells the kernel a node's cached attributes and data are stale (set once mounted). */
  invalidate: (nodeId: number) => void = () => undefined;

  constructor(readonly cfg: UnionConfig) {
    this.nodes = new NodeTable(undefined);
    this.nodes.root.lowerDir = !isOpaque('.');
    this.nodes.root.ino = 1;
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
    if (n.detached) {
      const h = [...this.handles.values()].find((x) => x.node === n);
      if (h === undefined) throw new FsError(ENOENT);
      a = fdAttr(h.fd, this.inos);
    } else if (n.upper) {
      const got = upperAttr(this.upperPath(n), this.inos, n.plain, this.creatorFds.get(n));
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

  /** Opens a node's current file; writers copy it up first (mutate.ts). */
  openHandle(n: Node, flags: number): number {
    const clean = flags & ~(constants.O_CREAT | constants.O_EXCL | constants.O_NOCTTY);
    const fd = openPath(
      n.upper ? this.upperPath(n) : reachable(n.lower!.real),
      n.upper ? clean : clean & ~constants.O_TRUNC,
      0,
    );
    const fh = this.nextFh++;
    this.handles.set(fh, { node: n, fd, flags: clean, gen: n.upper ? -1 : n.gen });
    return fh;
  }

  /** The fd create() opened on a node's upper file, while it is open. */
  creatorFd(n: Node): number | undefined {
    return this.creatorFds.get(n);
  }

  /** Registers an fd opened on a node's upper file (create). */
  adoptHandle(n: Node, fd: number, flags: number): number {
    this.creatorFds.set(n, fd);
    const fh = this.nextFh++;
    this.handles.set(fh, { node: n, fd, flags, gen: -1 });
    return fh;
  }

  /** A handle's fd; one opened on a lower file that was copied up since is reopened on the copy. */
  fd(fh: number): number {
    const h = this.handles.get(fh);
    if (h === undefined) throw new FsError(EBADF);
    if (h.gen !== -1 && h.node.upper && !h.node.detached) {
      const fd = openSync(B(this.upperPath(h.node)), h.flags & ~constants.O_TRUNC);
      closeSync(h.fd);
      h.fd = fd;
      h.gen = -1;
    }
    return h.fd;
  }

  release(fh: number): void {
    const h = this.handles.get(fh);
    if (h === undefined) return;
    this.handles.delete(fh);
    if (this.creatorFds.get(h.node) === h.fd) this.creatorFds.delete(h.node);
    closeFd(h.fd);
  }

  /** Makes a lower entry's node exist in the upper layer (its parents first); without its data before a truncation to 0. */
  copyUp(n: Node, withData = true): void {
    if (n.upper) return;
    if (n.parent !== undefined) this.copyUp(n.parent);
    const attr = this.attr(n);
    const dest = this.upperPath(n);
    copyUpEntry(this.cfg.style, this.cfg.work, n.lower!, attr, dest, withData);
    this.inos.alias(-1, lstatSync(B(dest)).ino, n.ino);
    n.upper = true;
    n.gen++;
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
      linkSync(B(dest), B(this.upperPath(other)));
      other.upper = true;
      other.gen++;
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

function lstatQuiet(path: string): Stats | undefined {
  return lstatSync(B(path), { throwIfNoEntry: false });
}
