import {
  constants,
  ftruncateSync,
  linkSync,
  mkdirSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mknod, renameat2, RENAME_EXCHANGE, RENAME_NOREPLACE } from '../src/sys/fsx.js';
import { openPath } from '../src/sys/fdops.js';
import type { Caller } from './libfuse.js';
import { pathsMoved, type Node } from './node.js';
import { B } from './attr.js';
import { EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, FsError } from './errno.js';
import { creatorId } from './idmap.js';
import { clearWhiteout, clearWhiteoutsIn, makeWhiteout, markOpaque, setOwnerMode, setRdev } from './upper.js';
import { isReservedName } from './whiteout.js';
import type { Union } from './union.js';

/**
 * The changes to a union: creation in the upper layer, removal with whiteouts, renames (a
 * directory with lower content is copied up whole, then renamed and made opaque, so programs
 * never see EXDEV), hard links. Each copies up what it touches first.
 */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_ISGID = 0o2000;

/** Makes room for a new name: the parent in the upper layer, no whiteout in the way. */
function prepare(u: Union, parent: Node, name: string): string {
  if (isReservedName(name)) throw new FsError(EINVAL);
  const missed = u.justMissed;
  if ((missed?.parent !== parent || missed.name !== name) && u.find(parent, name) !== undefined)
    throw new FsError(EEXIST);
  u.copyUp(parent);
  const dir = u.upperPath(parent);
  // Whiteouts stand where a lower entry is; create() also clears a stray one it runs into.
  if (u.lowerAt(parent, name) !== undefined) clearWhiteout(dir, name);
  return `${dir}/${name}`;
}

/**
 * The owner of a new entry, in the layers' ids: the caller (shifted back from the mount's ids),
 * with the group of a setgid parent (as the kernel does).
 */
function ownerOf(u: Union, parent: Node, caller: Caller, mode: number): [number, number, number] {
  const uid = creatorId(u.cfg.shift, caller.uid, 'uid');
  // The parent's setgid as last stat'ed: the kernel asks its attributes before each create anyway.
  if (parent.sgidGid === -2) u.attr(parent);
  const gid = parent.sgidGid;
  if (gid < 0) return [uid, creatorId(u.cfg.shift, caller.gid, 'gid'), mode];
  return [uid, gid, (mode & S_IFMT) === S_IFDIR ? mode | S_ISGID : mode];
}

function added(u: Union, parent: Node, name: string, type: number): Node {
  return u.nodes.make(parent, name, type, true, u.lowerAt(parent, name));
}

/** Creates and opens a regular file; its fd becomes the node's (union.ts fileFd). */
export function create(u: Union, parent: Node, name: string, mode: number, caller: Caller): Node {
  const [uid, gid, m] = ownerOf(u, parent, caller, mode);
  const path = prepare(u, parent, name);
  // Read-write whatever the caller asked: the fd serves every later read and write of the file
  // (the kernel checked the caller's access), and the kernel gives each write's offset (no O_APPEND).
  const open = (): number => openPath(path, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, m & 0o7777);
  let fd: number;
  try {
    fd = open();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !clearWhiteout(u.upperPath(parent), name)) throw e;
    fd = open();
  }
  const plain = !setOwnerMode(u.cfg.style, path, uid, gid, m, { fresh: true, fd });
  const node = added(u, parent, name, 0o100000);
  // A file we just made: attr() need not look for an override_stat, getxattr for a capability.
  node.plain = plain;
  node.fresh = true;
  u.fileFds.adopt(node, fd, constants.O_RDWR, true);
  return node;
}

/** mkdir, mknod and symlink. */
export function make(
  u: Union,
  parent: Node,
  name: string,
  mode: number,
  rdev: number,
  caller: Caller,
  target?: Buffer,
): Node {
  const type = target !== undefined ? 0o120000 : mode & S_IFMT;
  const [uid, gid, m] = ownerOf(u, parent, caller, type === 0o120000 ? 0o120777 : mode);
  const path = prepare(u, parent, name);
  if (type === S_IFDIR) mkdirSync(B(path), mode & 0o7777);
  else if (type === 0o120000) symlinkSync(target!, B(path));
  else if (type === 0o020000 || type === 0o060000) {
    writeFileSync(B(path), '');
    setRdev(path, rdev);
  } else mknod(path, type | (mode & 0o7777), 0);
  const plain = !setOwnerMode(u.cfg.style, path, uid, gid, m, { fresh: true, chmod: m !== mode && type !== 0o120000 });
  const node = added(u, parent, name, type);
  node.plain = plain;
  node.fresh = true;
  if (type === S_IFDIR && node.lower !== undefined) markOpaque(path);
  node.lowerDir = false;
  return node;
}

export function link(u: Union, src: Node, parent: Node, name: string): Node {
  if (src.type === S_IFDIR) throw new FsError(EPERM);
  const path = prepare(u, parent, name);
  u.copyUp(src);
  linkSync(B(u.upperPath(src)), B(path));
  if (src.ino === 0) u.attr(src);
  u.nodes.addAlias(src, parent, name);
  return src;
}

/** unlink and rmdir: remove the upper entry, leave a whiteout where a lower one exists. */
export function remove(u: Union, parent: Node, name: string, dir: boolean): void {
  const node = u.child(parent, name);
  if (dir && node.type !== S_IFDIR) throw new FsError(ENOTDIR);
  if (!dir && node.type === S_IFDIR) throw new FsError(EISDIR);
  if (dir && u.list(node).length > 0) throw new FsError(ENOTEMPTY);
  u.copyUp(parent);
  if (node.upper) {
    // The name removed, which for a hard link made through the mount need not be the node's primary one.
    const path = `${u.upperPath(parent)}/${name}`;
    if (dir) {
      clearWhiteoutsIn(path);
      rmdirSync(B(path));
    } else {
      u.keepReachable(node);
      unlinkSync(B(path));
    }
  }
  const isPrimary = node.parent === parent && node.name === name;
  // Another hard-link name may stand over a lower entry of its own: that one needs a whiteout too.
  if ((isPrimary ? node.lower : u.lowerAt(parent, name)) !== undefined)
    makeWhiteout(u.cfg.style, u.upperPath(parent), name);
  u.nodes.unname(node, parent, name);
  if (isPrimary) renamed(u, node);
}

/** After a node's primary name went and another hard-link name took its place: its lower entry is that name's. */
function renamed(u: Union, node: Node): void {
  if (!node.detached && node.parent !== undefined) node.lower = u.lowerAt(node.parent, node.name);
}

/** Copies up a node and, for a directory, everything below it. */
function copyUpTree(u: Union, node: Node): void {
  u.copyUp(node);
  if (node.type !== S_IFDIR || !node.lowerDir) return;
  for (const e of u.list(node)) {
    const child = u.find(node, e.name);
    if (child !== undefined) copyUpTree(u, child);
  }
}

export function rename(u: Union, parent: Node, name: string, newParent: Node, newName: string, flags: number): void {
  if (isReservedName(newName)) throw new FsError(EINVAL);
  const src = u.child(parent, name);
  const dst = u.find(newParent, newName);
  if (dst === src) return;
  if (src.parent !== parent || src.name !== name) return renameAlias(u, src, parent, name, newParent, newName, flags);
  if (dst !== undefined && (flags & RENAME_NOREPLACE) !== 0) throw new FsError(EEXIST);
  if ((flags & RENAME_EXCHANGE) !== 0) return exchange(u, src, dst);
  if (dst !== undefined) {
    if (dst.type === S_IFDIR && src.type !== S_IFDIR) throw new FsError(EISDIR);
    if (dst.type !== S_IFDIR && src.type === S_IFDIR) throw new FsError(ENOTDIR);
    if (dst.type === S_IFDIR && u.list(dst).length > 0) throw new FsError(ENOTEMPTY);
  }
  copyUpTree(u, src);
  u.copyUp(newParent);
  const to = `${u.upperPath(newParent)}/${newName}`;
  if (dst?.upper && dst.type === S_IFDIR) clearWhiteoutsIn(to);
  clearWhiteout(u.upperPath(newParent), newName);
  if (dst !== undefined) u.keepReachable(dst);
  renameSync(B(u.upperPath(src)), B(to));
  const lowerThere = u.lowerAt(newParent, newName);
  if (src.lower !== undefined) makeWhiteout(u.cfg.style, u.upperPath(parent), name);
  if (src.type === S_IFDIR && (lowerThere !== undefined || src.lowerDir)) markOpaque(to);
  const replaced = dst?.parent === newParent && dst.name === newName ? dst : undefined;
  u.nodes.move(src, newParent, newName);
  src.lower = lowerThere;
  forgetLower(src);
  if (replaced !== undefined) renamed(u, replaced);
}

/** Renames one hard-link name of a node that is not its primary name (all in the upper layer). */
function renameAlias(
  u: Union,
  src: Node,
  parent: Node,
  name: string,
  newParent: Node,
  newName: string,
  flags: number,
): void {
  if ((flags & RENAME_EXCHANGE) !== 0) throw new FsError(EINVAL);
  const dst = u.find(newParent, newName);
  if (dst?.type === S_IFDIR) throw new FsError(EISDIR);
  u.copyUp(newParent);
  clearWhiteout(u.upperPath(newParent), newName);
  if (dst !== undefined) u.keepReachable(dst);
  renameSync(B(`${u.upperPath(parent)}/${name}`), B(`${u.upperPath(newParent)}/${newName}`));
  if (u.lowerAt(parent, name) !== undefined) makeWhiteout(u.cfg.style, u.upperPath(parent), name);
  const replaced = dst?.parent === newParent && dst.name === newName ? dst : undefined;
  u.nodes.unname(src, parent, name);
  if (dst !== undefined) u.nodes.unname(dst, newParent, newName);
  if (replaced !== undefined) renamed(u, replaced);
  u.nodes.addAlias(src, newParent, newName);
}

/** After a move, nothing below a node comes from a lower layer any more (it was all copied up). */
function forgetLower(n: Node): void {
  n.lowerDir = false;
  for (const c of n.children.values()) {
    c.lower = undefined;
    forgetLower(c);
  }
}

function exchange(u: Union, a: Node, b: Node | undefined): void {
  if (b === undefined) throw new FsError(ENOENT);
  copyUpTree(u, a);
  copyUpTree(u, b);
  const pa = a.parent!;
  const pb = b.parent!;
  const [na, nb] = [a.name, b.name];
  renameat2(u.upperPath(a), u.upperPath(b), RENAME_EXCHANGE);
  const [la, lb] = [a.lower, b.lower];
  pa.children.delete(na);
  pb.children.delete(nb);
  a.parent = pb;
  a.name = nb;
  b.parent = pa;
  b.name = na;
  pb.children.set(nb, a);
  pa.children.set(na, b);
  pathsMoved();
  a.lower = lb;
  b.lower = la;
  for (const n of [a, b]) {
    if (n.type === S_IFDIR && (n.lower !== undefined || n.lowerDir)) markOpaque(u.upperPath(n));
    forgetLower(n);
  }
}

/** Truncates a file through its fd (kept for the writes that usually follow; an unlinked file has only that). */
export function truncate(u: Union, n: Node, size: number): void {
  ftruncateSync(u.fileFd(n, true), size);
}
