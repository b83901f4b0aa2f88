import { constants } from 'node:fs';
import { closeFd, openPath } from '../src/sys/fdops.js';
import type { Node } from './node.js';

/**
 * The fds files are read and written through, one per node: open answers ENOSYS, so the kernel
 * sends neither OPEN nor RELEASE for files and READ, WRITE and FSYNC come with no handle of ours
 * (two requests fewer a file read: tar's LOOKUP, OPEN, READ, GETATTR, RELEASE become three).
 * An fd is opened at a node's first read or write and kept, least recently used first out past
 * `limit`, closed when the kernel forgets the node. A node unlinked or replaced while the kernel
 * knows it may still be open in some process: its fd is then pinned (never evicted) until FORGET,
 * so that its data stays reachable as an open file's does.
 */
interface NodeFd {
  fd: number;
  writable: boolean;
  /** Opened on the upper file (a lower one is reopened after copy-up). */
  upper: boolean;
  pinned: boolean;
}

export class NodeFds {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  private readonly fds = new Map<Node, NodeFd>();
  private unpinned = 0;

  constructor(private readonly limit: number) {}

  /** The node's fd if it is open and fit: writable when asked, on the upper file once there is one. */
  cached(n: Node, write: boolean): number | undefined {
    const e = this.fds.get(n);
    if (e === undefined || (write && !e.writable) || (n.upper && !e.upper)) return undefined;
    if (!e.pinned) {
      this.fds.delete(n);
      this.fds.set(n, e);
    }
    return e.fd;
  }

  /** Opens `path` as the node's fd (replacing one that no longer fits); evicts the least recently used past the limit. */
  open(n: Node, path: string, write: boolean, upper: boolean): number {
    const fd = openPath(path, write ? constants.O_RDWR : constants.O_RDONLY, 0);
    this.adopt(n, fd, write, upper);
    return fd;
  }

  /** Takes an fd opened elsewhere (create's) as the node's. */
  adopt(n: Node, fd: number, writable: boolean, upper: boolean): void {
    const old = this.fds.get(n);
    const pinned = old?.pinned ?? false;
    if (old !== undefined) this.close(n, old);
    this.fds.set(n, { fd, writable, upper, pinned });
    if (!pinned) this.unpinned++;
    if (this.unpinned > this.limit) this.evictOne();
  }

  /** Keeps the node's fd open until forget(): it is about to lose its name. */
  pin(n: Node): void {
    const e = this.fds.get(n);
    if (e === undefined || e.pinned) return;
    e.pinned = true;
    this.unpinned--;
  }

  has(n: Node): boolean {
    return this.fds.has(n);
  }

  /** The node's fd, whatever it was opened for (attributes of an unlinked file). */
  any(n: Node): number | undefined {
    return this.fds.get(n)?.fd;
  }

  /** The kernel forgot the node: its fd goes. */
  forget(n: Node): void {
    const e = this.fds.get(n);
    if (e !== undefined) this.close(n, e);
  }

  /** Closes every fd (a session's end). */
  closeAll(): void {
    for (const [n, e] of [...this.fds]) this.close(n, e);
  }

  private evictOne(): void {
    for (const [n, e] of this.fds)
      if (!e.pinned) {
        this.close(n, e);
        return;
      }
  }

  private close(n: Node, e: NodeFd): void {
    this.fds.delete(n);
    if (!e.pinned) this.unpinned--;
    closeFd(e.fd);
  }
}
