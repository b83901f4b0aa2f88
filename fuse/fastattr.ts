import { fstatInto, lstatInto } from '../src/sys/stat.js';
import { packStat, put64 } from './wire.js';
import { ENOENT, FsError } from './errno.js';
import { lowerAttrShared } from './attr.js';
import { noteSetgid, type Node } from './node.js';
import type { Union } from './union.js';
import { toMount } from './idmap.js';

/**
 * A node's attributes packed as a struct stat into `out` (144 bytes of a reply buffer), owner
 * shifted to the mount's ids (uidmapping=/gidmapping=; squash wins, as in fuse-overlayfs);
 * returns st_nlink.
 */
export function packAttr(u: Union, n: Node, out: Buffer): number {
  const nlink = packDiskAttr(u, n, out);
  const shift = u.cfg.shift;
  if (shift !== undefined && u.cfg.squash === undefined) {
    out.writeUInt32LE(toMount(shift.uids, out.readUInt32LE(28), shift.overflowUid), 28);
    out.writeUInt32LE(toMount(shift.gids, out.readUInt32LE(32), shift.overflowGid), 32);
  }
  return nlink;
}

/**
 * packAttr in the layers' own ids. An upper file known to carry no override_stat (the common case: what a container
 * writes) is stat'ed straight into the reply, only st_ino replaced: no decoding, no object.
 */
function packDiskAttr(u: Union, n: Node, out: Buffer): number {
  if (!n.upper && !n.detached && u.cfg.squash === undefined) {
    // A lower entry: its attributes, computed once, packed without a copy.
    const a = lowerAttrShared(n.lower!, u.inos);
    if (n.ino === 0) n.ino = a.ino;
    packStat(out, 0, a);
    put64(out, n.ino, 8);
    noteSetgid(n, a.mode, a.gid);
    return a.nlink;
  }
  if (!n.upper || !n.plain || n.detached || u.cfg.squash !== undefined) {
    const a = u.attr(n);
    packStat(out, 0, a);
    return a.nlink;
  }
  const fd = u.creatorFd(n);
  if (fd !== undefined) fstatInto(fd, out);
  else if (!lstatInto(u.upperPath(n), out)) throw new FsError(ENOENT);
  const ino = u.inos.of(-1, out.readUInt32LE(8) + out.readUInt32LE(12) * 0x100000000);
  if (n.ino === 0) n.ino = ino;
  put64(out, n.ino, 8);
  noteSetgid(n, out.readUInt32LE(24), out.readUInt32LE(32));
  return out.readUInt32LE(16);
}
