import { unpackSetAttr } from './wire.js';
import { truncate } from './mutate.js';
import { setLinkOwner, setMode, setOwnerMode, setTimes } from './upper.js';
import type { Time } from '../src/sys/fsx.js';
import { fchmod, fchown, futimens } from '../src/sys/fdops.js';
import { fstatSync, ftruncateSync } from 'node:fs';
import { SysError } from '../src/errors.js';
import { EINVAL, EPERM, FsError } from './errno.js';
import type { Node } from './node.js';
import type { Union } from './union.js';
import { diskId } from './idmap.js';

/**
 * setattr: chmod, chown, truncate and utimes of a union entry, after its copy-up. Each asks
 * only the system calls its bits need (tar sets owner, mode and times of every file apart).
 */
const SET_MODE = 1,
  SET_UID = 2,
  SET_GID = 4,
  SET_SIZE = 8,
  SET_ATIME = 16,
  SET_MTIME = 32,
  ATIME_NOW = 128,
  MTIME_NOW = 256;

/**
 * chown of a plain file open by its create(), when the owner can be stored for real: its mode
 * and current owner need not be read. False when the general way must run (an unmapped owner).
 */
function chownOpen(u: Union, n: Node, fd: number | undefined, uid: number, gid: number): boolean {
  if (fd === undefined || !n.plain || u.cfg.style.overrideOnly || n.type !== 0o100000) return false;
  try {
    fchown(fd, uid, gid);
    return true;
  } catch (e) {
    if (e instanceof SysError && (e.errno === EPERM || e.errno === EINVAL)) return false;
    throw e;
  }
}

export function setattr(u: Union, n: Node, raw: Buffer, toSet: number): void {
  const want = unpackSetAttr(raw);
  // The kernel gives the mount's ids: stored as the layers' (EINVAL outside the mapping, before any change).
  if ((toSet & SET_UID) !== 0) want.uid = diskId(u.cfg.shift?.uids, want.uid);
  if ((toSet & SET_GID) !== 0) want.gid = diskId(u.cfg.shift?.gids, want.gid);
  if (n.detached) return setUnlinked(u.fileFd(n, true), want, toSet);
  u.copyUp(n, !((toSet & SET_SIZE) !== 0 && want.size === 0));
  const path = u.upperPath(n);
  // A file still open by its create(): by its descriptor, no path walk (tar sets owner, mode and times so).
  const fd = u.creatorFd(n);
  if ((toSet & (SET_UID | SET_GID)) === 0 && (toSet & SET_MODE) !== 0)
    n.plain = !setMode(u.cfg.style, path, n.type, want.mode & 0o7777, n.plain, fd);
  else if ((toSet & (SET_MODE | SET_UID | SET_GID)) === (SET_UID | SET_GID) && chownOpen(u, n, fd, want.uid, want.gid))
    n.plain = true;
  else if ((toSet & (SET_MODE | SET_UID | SET_GID)) !== 0) {
    const a = u.attr(n);
    const mode = (toSet & SET_MODE) !== 0 ? (a.mode & 0o170000) | (want.mode & 0o7777) : a.mode;
    const uid = (toSet & SET_UID) !== 0 ? want.uid : a.uid;
    const gid = (toSet & SET_GID) !== 0 ? want.gid : a.gid;
    n.plain = !setOwnerMode(u.cfg.style, path, uid, gid, mode, { chmod: (toSet & SET_MODE) !== 0, plain: n.plain, fd });
  }
  if ((toSet & SET_SIZE) !== 0) truncate(u, n, want.size);
  if ((toSet & (SET_ATIME | SET_MTIME | ATIME_NOW | MTIME_NOW)) !== 0) setTimes(path, ...times(want, toSet), fd);
}

/** The access and modification times a setattr asks (undefined: kept). */
function times(want: ReturnType<typeof unpackSetAttr>, toSet: number): [Time, Time] {
  const pick = (set: number, isNow: number, t: [number, number]): Time =>
    (toSet & isNow) !== 0 ? 'now' : (toSet & set) !== 0 ? t : undefined;
  return [
    pick(SET_ATIME, ATIME_NOW, [want.atimeSec, want.atimeNsec]),
    pick(SET_MTIME, MTIME_NOW, [want.mtimeSec, want.mtimeNsec]),
  ];
}

/**
 * setattr of a file unlinked while open (ftruncate, fchmod, futimens on it): through the fd that
 * keeps its data (union.ts keepReachable; a private copy for a lower file), since its path is gone
 * or names another file now. Its owner and mode are set for real only (no override_stat: no path).
 */
function setUnlinked(fd: number, want: ReturnType<typeof unpackSetAttr>, toSet: number): void {
  if ((toSet & (SET_UID | SET_GID)) !== 0) {
    const st = fstatSync(fd);
    fchown(fd, (toSet & SET_UID) !== 0 ? want.uid : st.uid, (toSet & SET_GID) !== 0 ? want.gid : st.gid);
  }
  if ((toSet & SET_MODE) !== 0) fchmod(fd, want.mode & 0o7777);
  if ((toSet & SET_SIZE) !== 0) ftruncateSync(fd, want.size);
  if ((toSet & (SET_ATIME | SET_MTIME | ATIME_NOW | MTIME_NOW)) !== 0) futimens(fd, ...times(want, toSet));
}

/** The xattr hutch-nsexec sets to record a chown the kernel refused to pass (native/chown-notify.c). */
export const OWNER_REQUEST = 'security.hutch.chown';
const KEEP = 0xffffffff; // -1: that id stays

/**
 * A chown asked through OWNER_REQUEST ("uid:gid", -1 keeps one): recorded as the entry's owner
 * as setattr would, setuid and group-executable setgid bits cleared as a chown clears them. Only
 * a holder of CAP_SYS_ADMIN over the union's user namespace gets here (a security.* name).
 */
export function recordOwner(u: Union, n: Node, value: Buffer): void {
  const m = /^(\d+):(\d+)$/.exec(value.toString('latin1'));
  if (m === null) throw new FsError(EINVAL);
  u.copyUp(n);
  const a = u.attr(n);
  const uid = Number(m[1]) === KEEP ? a.uid : Number(m[1]);
  const gid = Number(m[2]) === KEEP ? a.gid : Number(m[2]);
  if (n.type === 0o120000) return setLinkOwner(u.upperPath(n), uid, gid);
  let mode = a.mode;
  if (n.type === 0o100000) mode &= (mode & 0o010) !== 0 ? ~0o6000 : ~0o4000;
  const path = u.upperPath(n);
  n.plain = !setOwnerMode(u.cfg.style, path, uid, gid, mode, {
    chmod: mode !== a.mode,
    plain: n.plain,
    fd: u.creatorFd(n),
  });
}
