import { fstatInto, lstatInto } from '../src/sys/stat.js';
import { packStat, put64 } from './wire.js';
import { ENOENT, FsError } from './errno.js';
import { lowerAttrShared } from './attr.js';
import type { Node } from './node.js';
import type { Union } from './union.js';

/**
 * A node's attributes packed as a struct stat into `out` (144 bytes of a reply buffer); returns
 * st_nlink. An upper file known to carry no override_stat (the common case: what a container
 * writes) is stat'ed straight into the reply, only st_ino replaced: no decoding, no object.
 */
const S_IFDIR = 0o040000;
const S_ISGID = 0o2000;

export function packAttr(u: Union, n: Node, out: Buffer): number {
  if (!n.upper && !n.detached && u.cfg.squash === undefined) {
    // A lower entry: its attributes, computed once, packed without a copy.
    const a = lowerAttrShared(n.lower!, u.inos);
    if (n.ino === 0) n.ino = a.ino;
    packStat(out, 0, a);
    put64(out, n.ino, 8);
    if (n.type === S_IFDIR) n.sgidGid = (a.mode & S_ISGID) !== 0 ? a.gid : -1;
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
  if (n.type === S_IFDIR) n.sgidGid = (out.readUInt32LE(24) & S_ISGID) !== 0 ? out.readUInt32LE(32) : -1;
  return out.readUInt32LE(16);
}
