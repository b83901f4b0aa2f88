import { chmodSync, existsSync, lchownSync, lstatSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { lgetxattr, lremovexattr, lsetxattr } from '../src/sys/xattr.js';
import { mknod, utimens, type Time } from '../src/sys/fsx.js';
import { fchmod, fchown, futimens } from '../src/sys/fdops.js';
import {
  formatLinkOwner,
  formatOverrideStat,
  LINK_OWNER_PREFIX,
  OPAQUE_XATTRS,
  OVERRIDE_STAT,
  parseLinkOwner,
  parseOverrideStat,
  RDEV_XATTR,
} from './xattr.js';
import { isWhiteoutDevice, OPAQUE_MARKER, WH_PREFIX } from './whiteout.js';
import { B } from './attr.js';

/**
 * Writes to the upper layer: ownership (for real when the owner is mapped, else in the
 * override_stat xattr), whiteouts (a 0/0 character device, or `.wh.` files where mknod is
 * refused) and opaque directories, in the format overlayfs tools read.
 */
export interface UpperStyle {
  /** Keep ownership in override_stat only (single-uid mode, or squash). */
  overrideOnly: boolean;
  /** Whiteouts as `.wh.NAME` files (mknod of 0/0 refused here). */
  whiteoutFiles: boolean;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * Gives an upper file its owner and mode (mode includes the type bits): chown first, since a
 * chown clears setuid/setgid, then chmod. True when the file then carries an override_stat.
 */
export function setOwnerMode(
  style: UpperStyle,
  path: string,
  uid: number,
  gid: number,
  mode: number,
  how: Ownership = {},
): boolean {
  const type = mode & S_IFMT;
  const link = type === S_IFLNK;
  const device = type === 0o020000 || type === 0o060000;
  if (how.fresh && uid === 0 && gid === 0 && !device) return false;
  let real = false;
  if (!style.overrideOnly) {
    try {
      if (how.fd !== undefined) fchown(how.fd, uid, gid);
      else lchownSync(B(path), uid, gid);
      real = true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EPERM') throw e;
    }
  }
  if (!link && (how.chmod ?? !how.fresh)) chmodPath(path, mode & 0o7777, how.fd);
  if (real && !device) {
    if (!how.fresh && !how.plain && !link) lremovexattr(path, OVERRIDE_STAT);
    return false;
  }
  if (link) return false; // user.* xattrs cannot sit on symlinks: they keep the daemon's owner
  lsetxattr(path, OVERRIDE_STAT, formatOverrideStat({ uid, gid, mode }));
  return true;
}

/**
 * How setOwnerMode may save system calls. `fresh`: we just made the file, as 0:0 with this mode
 * and no xattrs; `chmod: false`: the mode is not changing; `plain`: it has no override_stat;
 * `fd`: an open descriptor of the file (no path walk for chown and chmod).
 */
export interface Ownership {
  fresh?: boolean;
  chmod?: boolean;
  plain?: boolean;
  fd?: number;
}

function chmodPath(path: string, perm: number, fd: number | undefined): void {
  if (fd !== undefined) fchmod(fd, perm);
  else chmodSync(B(path), perm);
}

/** chmod alone (the common case): the override_stat value, when there is one, follows. True when there is one. */
export function setMode(
  style: UpperStyle,
  path: string,
  type: number,
  perm: number,
  plain: boolean,
  fd?: number,
): boolean {
  if (type === S_IFLNK) return false;
  chmodPath(path, perm, fd);
  const o = plain ? undefined : lgetxattr(path, OVERRIDE_STAT);
  const parsed = o === undefined ? undefined : parseOverrideStat(o);
  return (
    parsed !== undefined && setOwnerMode(style, path, parsed.uid, parsed.gid, (parsed.mode & S_IFMT || type) | perm)
  );
}

/** Sets times (seconds, nanoseconds; undefined: leave as is, 'now') without following symlinks; through `fd` when open. */
export function setTimes(path: string, atime: Time, mtime: Time, fd?: number): void {
  if (fd !== undefined) futimens(fd, atime, mtime);
  else utimens(path, atime, mtime);
}

/** Leaves a whiteout for `name` in the upper directory `dir`. */
export function makeWhiteout(style: UpperStyle, dir: string, name: string): void {
  if (style.whiteoutFiles) writeFileSync(B(`${dir}/${WH_PREFIX}${name}`), '');
  else mknod(`${dir}/${name}`, 0o020000, 0);
}

/** Removes a whiteout of `name` in `dir` if there is one; true when one was there. */
export function clearWhiteout(dir: string, name: string): boolean {
  const wh = B(`${dir}/${WH_PREFIX}${name}`);
  if (existsSync(wh)) {
    unlinkSync(wh);
    return true;
  }
  const st = lstatSync(B(`${dir}/${name}`), { throwIfNoEntry: false });
  if (st === undefined || !isWhiteoutDevice(st.mode, st.rdev)) return false;
  unlinkSync(B(`${dir}/${name}`));
  return true;
}

/** Marks an upper directory opaque: nothing of the lower layers shows through it. */
export function markOpaque(dir: string): void {
  try {
    lsetxattr(dir, 'user.overlay.opaque', Buffer.from('y'));
  } catch {
    writeFileSync(B(`${dir}/${OPAQUE_MARKER}`), '');
  }
}

/** Whether an upper directory is opaque. */
export function isOpaque(dir: string): boolean {
  for (const x of OPAQUE_XATTRS) {
    try {
      const v = lgetxattr(dir, x);
      if (v !== undefined && v[0] === 0x79) return true;
    } catch {
      // unreadable namespace (trusted.*): not ours
    }
  }
  return existsSync(B(`${dir}/${OPAQUE_MARKER}`));
}

/** Empties an upper directory that holds only whiteouts, before it is removed or replaced. */
export function clearWhiteoutsIn(dir: string): void {
  for (const name of readdirSync(B(dir), { encoding: 'buffer' }) as Buffer[])
    rmSync(Buffer.concat([B(dir + '/'), name]), { force: true });
}

/** Stores a device number beside a placeholder file (device nodes cannot be made here). */
export function setRdev(path: string, rdev: number): void {
  lsetxattr(path, RDEV_XATTR, Buffer.from(String(rdev)));
}

/** Records an upper symlink's owner on its directory (the link itself cannot carry a user.* xattr). */
export function setLinkOwner(path: string, uid: number, gid: number): void {
  const { dir, name } = linkRecord(B(path));
  lsetxattr(dir, name, formatLinkOwner(uid, gid, lstatSync(B(path), { bigint: true })));
}

/** An upper symlink's recorded owner, if one was recorded for this very link; `path` as bytes. */
export function linkOwner(path: Buffer): { uid: number; gid: number } | undefined {
  const { dir, name } = linkRecord(path);
  if (name.length > 255) return undefined; // XATTR_NAME_MAX: none could be set (chown -h failed ERANGE)
  const value = lgetxattr(dir, name);
  return value === undefined ? undefined : parseLinkOwner(value, lstatSync(path, { bigint: true }));
}

/** The directory and xattr name (latin1: one char per byte, as the xattr calls encode it) of a link's record. */
function linkRecord(path: Buffer): { dir: Buffer; name: string } {
  const cut = path.lastIndexOf(0x2f);
  return {
    dir: cut < 0 ? B('.') : path.subarray(0, cut),
    name: LINK_OWNER_PREFIX + path.subarray(cut + 1).toString('latin1'),
  };
}
