import { fstatInto, lstatInto } from '../src/sys/stat.js';
import { packStat, put64 } from './wire.js';
import { ENOENT, FsError } from './errno.js';
import { lowerAttrShared } from './attr.js';
import { noteSetgid, type Node } from './node.js';
import type { Union } from './union.js';

/**
 * A node's attributes packed as a struct stat into `out` (144 bytes of a reply buffer); returns
 * st_nlink. An upper file known to carry no override_stat (the common case: what a container
 * writes) is stat'ed straight into the reply, only st_ino replaced: no decoding, no object.
 */
export function packAttr(u: Union, n: Node, out: Buffer): number {
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
