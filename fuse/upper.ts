import { chmodSync, existsSync, lchownSync, lutimesSync, readdirSync, rmSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { lgetxattr, lremovexattr, lsetxattr } from '../src/sys/xattr.js';
import { mknod } from '../src/sys/fsx.js';
import { formatOverrideStat, OPAQUE_XATTRS, OVERRIDE_STAT, parseOverrideStat, RDEV_XATTR } from './xattr.js';
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
 * Gives an upper file its owner and mode (mode includes the type bits). `fresh`: we just made it,
 * as 0:0 with this mode and no xattrs, so only what differs needs a system call.
 */
export function setOwnerMode(style: UpperStyle, path: string, uid: number, gid: number, mode: number, fresh = false): void {
  const link = (mode & S_IFMT) === S_IFLNK;
  if (fresh && uid === 0 && gid === 0 && (mode & S_IFMT) !== 0o020000 && (mode & S_IFMT) !== 0o060000) return;
  if (!link && !fresh) chmodSync(B(path), mode & 0o7777);
  let real = false;
  if (!style.overrideOnly) {
    try {
      lchownSync(B(path), uid, gid);
      real = true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EPERM') throw e;
    }
  }
  const realType = fresh ? (mode & S_IFMT) !== 0o020000 && (mode & S_IFMT) !== 0o060000 : (lstatSync(B(path)).mode & S_IFMT) === (mode & S_IFMT);
  if (real && realType) {
    if (!fresh && !link) lremovexattr(path, OVERRIDE_STAT);
    return;
  }
  if (link) return; // user.* xattrs cannot sit on symlinks: they keep the daemon's owner
  lsetxattr(path, OVERRIDE_STAT, formatOverrideStat({ uid, gid, mode }));
}

/** chmod alone (the common case): the override_stat value, when there is one, follows. */
export function setMode(style: UpperStyle, path: string, type: number, perm: number): void {
  if (type === S_IFLNK) return;
  chmodSync(B(path), perm);
  const o = lgetxattr(path, OVERRIDE_STAT);
  const parsed = o === undefined ? undefined : parseOverrideStat(o);
  if (parsed !== undefined) setOwnerMode(style, path, parsed.uid, parsed.gid, ((parsed.mode & S_IFMT) || type) | perm);
}

/** Sets times (seconds, nanoseconds) on an upper file without following symlinks. */
export function setTimes(path: string, atime: [number, number], mtime: [number, number]): void {
  lutimesSync(B(path), atime[0] + atime[1] / 1e9, mtime[0] + mtime[1] / 1e9);
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
  try {
    const st = lstatSync(B(`${dir}/${name}`));
    if (!isWhiteoutDevice(st.mode, st.rdev)) return false;
    unlinkSync(B(`${dir}/${name}`));
    return true;
  } catch {
    return false;
  }
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
  for (const name of readdirSync(B(dir), { encoding: 'buffer' }) as Buffer[]) rmSync(Buffer.concat([B(dir + '/'), name]), { force: true });
}

/** Stores a device number beside a placeholder file (device nodes cannot be made here). */
export function setRdev(path: string, rdev: number): void {
  lsetxattr(path, RDEV_XATTR, Buffer.from(String(rdev)));
}
