import { constants, fsyncSync, openSync, closeSync } from 'node:fs';
import { callerOf, pidOf, reply, type LowLevelHandlers } from './libfuse.js';
import {
  ENTRY_SIZE,
  FILE_INFO_SIZE,
  packEntryHead,
  packEntryOut,
  packFdBufvec,
  packFileInfo,
  packStatvfs,
  STAT_SIZE,
} from './wire.js';
import { packAttr } from './fastattr.js';
import { create, link, make, remove, rename } from './mutate.js';
import { setXattr, getXattr, listXattr, removeXattr } from './xattrops.js';
import { setattr } from './setattr.js';
import { B } from './attr.js';
import { ENODATA, ENOENT, ENOSYS, ENOTDIR, FsError, toErrno } from './errno.js';
import { pwritePointer, fdatasync } from '../src/sys/fsx.js';
import type { Node } from './node.js';
import type { PublishAnswer, PublishListingEnd } from './pages.js';
import type { Union } from './union.js';

/**
 * The errno adapter between libfuse's low-level callbacks and the union: every op replies
 * exactly once; what it throws becomes `-errno` (EIO for the unexpected, which is logged).
 * Ops never throw to libfuse.
 */
export function unionHandlers(
  u: Union,
  timeout: number,
  log: (e: unknown) => void,
  fast: FastAnswers = {},
): LowLevelHandlers {
  const c = context(u, timeout, log, fast);
  return { ...nameOps(c), ...fileOps(c), ...dirOps(c), ...xattrOps(c) } as LowLevelHandlers;
}

/**
 * Where the daemon's loop answers GETATTR and READ of lower files, and the READDIR(PLUS) at a
 * listing's end, in C (native/fs-fast.c): set once the loop is the library's (it may be set after
 * the handlers are made).
 */
export interface FastAnswers {
  publish?: PublishAnswer;
  publishEnd?: PublishListingEnd;
}

// Printable ASCII: koffi passes a string as UTF-8, and a latin1 byte above 127 would change.
const ASCII = /^[ -~]*$/;

/**
 * The processes that looked up a file (not a directory) lately: their listings carry the files'
 * entries too (READDIRPLUS), so that tar, du or cp -r cost no LOOKUP a file. A walk that never
 * looks at files (find -type f) gets the directories' alone: an entry packed costs the daemon more
 * than a LOOKUP it spares costs the walk, for a name the walk never opens. The last KEPT are kept.
 */
class FileReaders {
  private static readonly KEPT = 64;
  private readonly pids = new Set<number>();

  note(pid: number): void {
    if (this.pids.has(pid)) return;
    if (this.pids.size >= FileReaders.KEPT) this.pids.delete(this.pids.values().next().value!);
    this.pids.add(pid);
  }

  has(pid: number): boolean {
    return this.pids.has(pid);
  }
}

type Guard = <A extends unknown[]>(fn: (req: bigint, ...a: A) => void) => (req: bigint, ...a: A) => void;

interface Ctx {
  u: Union;
  timeout: number;
  guard: Guard;
  entry(req: bigint, n: Node): void;
  /** A node's struct fuse_entry_out at `at` in `out`, for a READDIRPLUS: a lookup, as entry's. */
  entryOut(n: Node, out: Buffer, at: number): void;
  attrReply(req: bigint, n: Node): void;
  /** A node's entry (for create's reply), in the one reused buffer. */
  packNodeEntry(n: Node, ttlOf: (nlink: number) => number): Buffer;
  ok(req: bigint): void;
  fileReaders: FileReaders;
  /** Notes a lookup's miss for the next request. */
  miss(parent: Node, name: string): void;
  /** A node a request changes the entries (or opacity, by xattr) of: its listing is taken again. */
  changing(id: number): Node;
  /** Where a directory's listing ends, for the C answer to the kernel's last READDIR(PLUS) of it. */
  listingEnded(dir: Node, end: number): void;
}

function context(u: Union, timeout: number, log: (e: unknown) => void, fast: FastAnswers): Ctx {
  // An upper file with several names may be several kernel inodes (a node per path): the kernel
  // must not keep the attributes (size, mtime) of one while another is written.
  const ttl = (n: Node, nlink: number): number => (n.upper && nlink > 1 && n.type !== 0o040000 ? 0 : timeout);
  // libfuse copies replies before returning: one buffer each serves every request.
  const entryBuf = Buffer.alloc(ENTRY_SIZE);
  const entryStat = entryBuf.subarray(16, 16 + STAT_SIZE);
  const statBuf = Buffer.alloc(STAT_SIZE);
  // A lookup's miss stays known for the one request after it (see Union.justMissed).
  let missed: Union['justMissed'];
  const guard: Guard =
    (fn) =>
    (req, ...a) => {
      u.justMissed = missed;
      missed = undefined;
      try {
        fn(req, ...a);
      } catch (e) {
        reply.err(req, toErrno(e, log));
      }
      u.justMissed = undefined;
    };
  /**
   * A file only in a lower layer, as just replied: its attributes and bytes cannot change until a
   * request that may change something comes, and fs-fast.c answers its GETATTR and READ until then
   * (a path it could not open as given, not ASCII or too long, stays with JS).
   */
  const publish = (n: Node, stat: Buffer, ttl: number): void => {
    if (fast.publish === undefined || n.type !== 0o100000 || n.upper || n.detached || n.lower === undefined) return;
    const path = n.lower.real;
    if (path.length < 4000 && ASCII.test(path)) fast.publish(n.id, stat, ttl, path);
  };
  /** A struct fuse_entry_param of a node in entryBuf (the attributes stat'ed straight into it). */
  const packNodeEntry = (n: Node, ttlOf: (nlink: number) => number): Buffer => {
    const nlink = packAttr(u, n, entryStat);
    const t = ttlOf(nlink);
    return packEntryHead(entryBuf, n.id, t);
  };
  return {
    u,
    timeout,
    guard,
    packNodeEntry,
    entry(req, n) {
      n.nlookup++;
      let t = timeout;
      reply.entry(
        req,
        packNodeEntry(n, (nlink) => (t = ttl(n, nlink))),
      );
      publish(n, entryStat, t);
    },
    entryOut(n, out, at) {
      let t = timeout;
      packEntryOut(
        packNodeEntry(n, (nlink) => (t = ttl(n, nlink))),
        out,
        at,
      );
      n.nlookup++;
      publish(n, entryStat, t);
    },
    attrReply(req, n) {
      const t = ttl(n, packAttr(u, n, statBuf));
      reply.attr(req, statBuf, t);
      publish(n, statBuf, t);
    },
    fileReaders: new FileReaders(),
    ok: (req) => void reply.err(req, 0),
    miss: (parent, name) => void (missed = { parent, name }),
    changing(id) {
      const n = u.node(id);
      u.listings.changed(n);
      return n;
    },
    listingEnded: (dir, end) => void fast.publishEnd?.(dir.id, end),
  };
}

/** Names: lookup, attributes and everything that adds, removes or renames an entry. */
function nameOps({ u, guard, entry, attrReply, ok, miss, changing, fileReaders }: Ctx): Partial<LowLevelHandlers> {
  return {
    lookup: guard((req, parent, name) => {
      // Negative lookups are frequent (every create): no exception on that path.
      const p = u.node(parent);
      const n = u.find(p, name);
      if (n === undefined) {
        miss(p, name);
        reply.err(req, ENOENT);
      } else {
        if (n.type !== 0o040000) fileReaders.note(pidOf(req));
        entry(req, n);
      }
    }),
    forget: (ino, n) => u.nodes.forget(ino, n),
    getattr: guard((req, ino) => attrReply(req, u.node(ino))),
    setattr: guard((req, ino, raw, toSet) => {
      const n = u.node(ino);
      setattr(u, n, raw, toSet);
      attrReply(req, n);
    }),
    readlink: guard((req, ino) => void reply.readlink(req, Buffer.concat([u.readlink(u.node(ino)), Buffer.alloc(1)]))),
    mknod: guard((req, p, name, mode, rdev) => entry(req, make(u, changing(p), name, mode, rdev, callerOf(req)))),
    mkdir: guard((req, p, name, mode) =>
      entry(req, make(u, changing(p), name, 0o040000 | (mode & 0o7777), 0, callerOf(req))),
    ),
    unlink: guard((req, p, name) => (remove(u, changing(p), name, false), ok(req))),
    rmdir: guard((req, p, name) => (remove(u, changing(p), name, true), ok(req))),
    symlink: guard((req, target, p, name) =>
      entry(req, make(u, changing(p), name, 0o120777, 0, callerOf(req), B(target))),
    ),
    rename: guard((req, p, name, np, nn, flags) => {
      const [from, to] = [changing(p), changing(np)];
      // A moved (or exchanged) directory's listing names its old parent as '..'.
      for (const n of [from.children.get(name), to.children.get(nn)]) if (n !== undefined) u.listings.changed(n);
      rename(u, from, name, to, nn, flags);
      ok(req);
    }),
    link: guard((req, ino, np, nn) => entry(req, link(u, u.node(ino), changing(np), nn))),
    statfs: guard((req) => void reply.statfs(req, packStatvfs(u.statfs()))),
  };
}

/**
 * Files with no open handle (fuse/nodefd.ts): open answers ENOSYS once, and the kernel then sends
 * neither OPEN nor RELEASE (keeping cached pages at every open); reads and writes go straight
 * between the node's fd and libfuse's buffers. CREATE is still sent: its fd becomes the node's.
 */
function fileOps({ u, timeout, guard, ok, packNodeEntry, changing }: Ctx): Partial<LowLevelHandlers> {
  const fi = Buffer.alloc(FILE_INFO_SIZE);
  const bufv = Buffer.alloc(64);
  return {
    open: guard((req) => void reply.err(req, ENOSYS)),
    create: guard((req, p, name, mode) => {
      const n = create(u, changing(p), name, 0o100000 | (mode & 0o7777), callerOf(req));
      n.nlookup++;
      reply.create(
        req,
        packNodeEntry(n, () => timeout),
        packFileInfo(0, { keepCache: true }, fi),
      );
    }),
    read: guard(
      (req, ino, size, off) => void reply.data(req, packFdBufvec(u.fileFd(u.node(ino), false), size, off, bufv), 0),
    ),
    write: guard(
      (req, ino, data, size, off) => void reply.write(req, pwritePointer(u.fileFd(u.node(ino), true), data, size, off)),
    ),
    // Files made by CREATE before the kernel learnt that open is not implemented are released.
    release: guard((req) => ok(req)),
    fsync: guard((req, ino, datasync, fh) => {
      if (fh === -1) return void (syncDir(u, u.node(ino)), ok(req));
      const fd = u.fileFd(u.node(ino), false);
      if (datasync) fdatasync(fd);
      else fsyncSync(fd);
      ok(req);
    }),
  };
}

/**
 * Directory listings with no open handle (fuse/listing.ts): opendir answers ENOSYS once, and the
 * kernel then sends neither OPENDIR nor RELEASEDIR and caches listings itself.
 */
function dirOps({ u, guard, ok, entryOut, fileReaders, listingEnded }: Ctx): Partial<LowLevelHandlers> {
  const dir = (ino: number): Node => {
    const n = u.node(ino);
    if (n.type !== 0o040000) throw new FsError(ENOTDIR);
    return n;
  };
  const entries = (n: Node) => () => [
    { name: '.', ino: n.ino || 1, type: 0o040000 },
    { name: '..', ino: n.parent === undefined ? n.ino : n.parent.ino || 1, type: 0o040000 },
    ...u.list(n),
  ];
  return {
    opendir: guard((req) => void reply.err(req, ENOSYS)),
    readdir: guard((req, ino, size, off) => {
      const n = dir(ino);
      const b = u.listings.read(n, off, size, entries(n), (end) => listingEnded(n, end));
      reply.buf(req, b, b.length);
    }),
    // Each entry comes with what a LOOKUP would answer: a walk (find) costs no LOOKUP per
    // directory, and reading every file of a tree (tar) none per file (FileReaders says for whom).
    readdirplus: guard((req, ino, size, off) => {
      const n = dir(ino);
      const b = u.listings.readPlus(
        n,
        off,
        size,
        entries(n),
        fileReaders.has(pidOf(req)),
        (name, out, at) => {
          try {
            const child = u.find(n, name);
            if (child === undefined) return false;
            entryOut(child, out, at);
            return true;
          } catch {
            return false; // its LOOKUP, when it comes, says why
          }
        },
        (end) => listingEnded(n, end),
      );
      reply.buf(req, b, b.length);
    }),
    releasedir: guard((req) => ok(req)),
  };
}

function xattrOps({ u, guard, ok, changing }: Ctx): Partial<LowLevelHandlers> {
  return {
    setxattr: guard((req, ino, name, value, flags) => (setXattr(u, changing(ino), name, value, flags), ok(req))),
    getxattr: guard((req, ino, name, size) => {
      const v = getXattr(u, u.node(ino), name);
      if (v === undefined) reply.err(req, ENODATA);
      else sized(req, v, size);
    }),
    listxattr: guard((req, ino, size) => sized(req, listXattr(u, u.node(ino)), size)),
    removexattr: guard((req, ino, name) => (removeXattr(u, changing(ino), name), ok(req))),
  };
}

/** Replies an xattr value or list: its size when asked for 0 bytes, ERANGE when too small. */
function sized(req: bigint, value: Buffer, size: number): void {
  if (size === 0) reply.xattr(req, value.length);
  else if (size < value.length) reply.err(req, 34);
  else reply.buf(req, value, value.length);
}

function syncDir(u: Union, n: Node): void {
  if (!n.upper) return;
  const fd = openSync(B(u.upperPath(n)), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
