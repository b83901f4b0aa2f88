import { constants } from 'node:fs';
import { constants as os } from 'node:os';
import { closeFd, openPath } from '../src/sys/fdops.js';
import { SysError } from '../src/errors.js';
import type { Node } from './node.js';

/**
 * The fds files are read and written through, one per node: open answers ENOSYS, so the kernel
 * sends neither OPEN nor RELEASE for files and READ, WRITE and FSYNC come with no handle of ours
 * (two requests fewer a file read: tar's LOOKUP, OPEN, READ, GETATTR, RELEASE become three).
 * An fd is opened at a node's first read or write and kept; past `FILE_FDS` open in the process
 * (all unions of a shared daemon together), or when open(2) runs out of fds (then half of them,
 * and from then on `SPARE_FDS` fewer are kept), the least recently used go; the kernel's FORGET
 * of a node closes its fd. A node unlinked or replaced while the kernel knows it may still be
 * open in some process: its fd is then pinned (never evicted) until FORGET, so that its data
 * stays reachable as an open file's does.
 */
const FILE_FDS = 256;
/**
 * Once open(2) ran out of fds, the kept ones stay this many under the count that ran out: the
 * opens that do not give kept fds back (a copy-up's, a new file's, a listing's) then find fds.
 */
const SPARE_FDS = 32;
const { EMFILE, ENFILE, EACCES } = os.errno;

type Access = typeof constants.O_RDONLY | typeof constants.O_WRONLY | typeof constants.O_RDWR;

interface NodeFd {
  fd: number;
  access: Access;
  /** Opened on the upper file (a lower one is reopened after copy-up). */
  upper: boolean;
  pinned: boolean;
  owner: NodeFds;
}

// One list for the process, least recently used first (a Map iterates in insertion order:
// re-inserting on use keeps it so). Nodes are objects of one union each, so they never collide.
const open = new Map<Node, NodeFd>();
let unpinned = 0;
/** How many are kept at most: FILE_FDS, lowered once the process ran out of fds. */
let keptMax = FILE_FDS;

/** The fds of one union's files (a view of the process's list). */
export class NodeFds {
  /** The node's fd if it is open and fit: for writing when asked, on the upper file once there is one. */
  cached(n: Node, write: boolean): number | undefined {
    const e = open.get(n);
    if (e === undefined || !fits(e.access, write) || (n.upper && !e.upper)) return undefined;
    if (!e.pinned) {
      open.delete(n);
      open.set(n, e);
    }
    return e.fd;
  }

  /**
   * Opens `path` as the node's fd, read-write for a writer (the fd then serves its reads too),
   * write-only where the daemon may only write it (a file of mode 0200 not its own).
   */
  open(n: Node, path: string, write: boolean, upper: boolean): number {
    let access: Access = write ? constants.O_RDWR : constants.O_RDONLY;
    let fd: number;
    try {
      fd = openSpare(path, access);
    } catch (e) {
      if (!write || !(e instanceof SysError) || e.errno !== EACCES) throw e;
      access = constants.O_WRONLY;
      fd = openSpare(path, access);
    }
    this.adopt(n, fd, access, upper);
    return fd;
  }

  /** Takes an fd opened elsewhere (create's) as the node's, replacing the one it had. */
  adopt(n: Node, fd: number, access: Access, upper: boolean): void {
    const old = open.get(n);
    const pinned = old?.pinned ?? false;
    if (old !== undefined) close(n, old);
    open.set(n, { fd, access, upper, pinned, owner: this });
    if (!pinned && ++unpinned > keptMax) evict(unpinned - keptMax);
  }

  /** Keeps the node's fd open until forget(): it is about to lose its name. */
  pin(n: Node): void {
    const e = open.get(n);
    if (e === undefined || e.pinned) return;
    e.pinned = true;
    unpinned--;
  }

  has(n: Node): boolean {
    return open.has(n);
  }

  /** The node's fd, whatever it was opened for (attributes of an unlinked file). */
  any(n: Node): number | undefined {
    return open.get(n)?.fd;
  }

  /** The kernel forgot the node: its fd goes. */
  forget(n: Node): void {
    const e = open.get(n);
    if (e !== undefined) close(n, e);
  }

  /** Closes every fd of this union (its session ended). */
  closeAll(): void {
    for (const [n, e] of [...open]) if (e.owner === this) close(n, e);
  }
}

/** How many fds the process keeps for files that it would close when short of fds (none pinned). */
export function keptFileFds(): number {
  return unpinned;
}

function fits(access: Access, write: boolean): boolean {
  return write ? access !== constants.O_RDONLY : access !== constants.O_WRONLY;
}

/** open(2), closing the least recently used half of the kept fds once if the process is out of fds. */
function openSpare(path: string, access: Access): number {
  try {
    return openPath(path, access, 0);
  } catch (e) {
    if (!(e instanceof SysError) || (e.errno !== EMFILE && e.errno !== ENFILE) || unpinned === 0) throw e;
    keptMax = Math.max(1, Math.min(keptMax, unpinned - SPARE_FDS));
    evict(Math.ceil(unpinned / 2));
    return openPath(path, access, 0);
  }
}

function evict(count: number): void {
  for (const [n, e] of open) {
    if (count === 0) return;
    if (e.pinned) continue;
    close(n, e);
    count--;
  }
}

function close(n: Node, e: NodeFd): void {
  open.delete(n);
  if (!e.pinned) unpinned--;
  closeFd(e.fd);
}
