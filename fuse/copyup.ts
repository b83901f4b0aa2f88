import {
  constants,
  copyFileSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mknod } from '../src/sys/fsx.js';
import { openPath } from '../src/sys/fdops.js';
import { lgetxattr, llistxattr, lsetxattr } from '../src/sys/xattr.js';
import type { LowerEntry } from './lookup.js';
import type { Attr } from './wire.js';
import { B } from './attr.js';
import { isPrivateXattr } from './xattr.js';
import { reachable } from '../src/sys/longpath.js';
import { setOwnerMode, setRdev, setTimes, type UpperStyle } from './upper.js';

/**
 * Copy-up: the upper copy of a lower entry, with its content (copied by the kernel,
 * copy_file_range or a reflink, never through JS memory), mode, ownership, times and xattrs.
 * Built under the work directory and renamed into place, so a crash never leaves half a file.
 */
let serial = 0;

export function copyUpEntry(
  style: UpperStyle,
  work: string,
  e: LowerEntry,
  attr: Attr,
  dest: string,
  withData: boolean,
): void {
  const tmp = `${work}/cu-${process.pid}-${serial++}`;
  try {
    makeCopy(e, attr, tmp, withData);
    copyXattrs(e, tmp, attr.mode);
    setOwnerMode(style, tmp, attr.uid, attr.gid, attr.mode);
    if ((attr.mode & 0o170000) === 0o020000 || (attr.mode & 0o170000) === 0o060000) setRdev(tmp, attr.rdev);
    setTimes(tmp, [attr.atimeSec, attr.atimeNsec], [attr.mtimeSec, attr.mtimeNsec]);
    renameSync(B(tmp), B(dest));
  } catch (err) {
    rmSync(B(tmp), { force: true, recursive: true });
    throw err;
  }
}

function makeCopy(e: LowerEntry, attr: Attr, tmp: string, withData: boolean): void {
  switch (attr.mode & 0o170000) {
    case 0o040000:
      mkdirSync(B(tmp), 0o700);
      return;
    case 0o120000:
      symlinkSync(
        e.meta?.link
          ? B(Buffer.from(e.meta.link).toString('latin1'))
          : readlinkSync(B(reachable(e.real)), { encoding: 'buffer' }),
        B(tmp),
      );
      return;
    case 0o100000:
      if (withData) copyFileSync(B(reachable(e.real)), B(tmp), constants.COPYFILE_FICLONE);
      else writeFileSync(B(tmp), ''); // opened with O_TRUNC, or truncated to 0: no need to copy
      return;
    case 0o010000:
    case 0o140000:
      mknod(tmp, (attr.mode & 0o170000) | 0o600, 0);
      return;
    default:
      // Device nodes: mknod needs CAP_MKNOD in the initial namespace; keep a placeholder.
      writeFileSync(B(tmp), '');
  }
}

function copyXattrs(e: LowerEntry, tmp: string, mode: number): void {
  if ((mode & 0o170000) === 0o120000) return;
  const pairs: [string, Buffer][] = [];
  if (e.meta !== undefined) for (const [k, v] of e.meta.xattrs) pairs.push([k, v]);
  else {
    for (const name of safeList(e.real)) {
      if (isPrivateXattr(name)) continue;
      const v = lgetxattr(reachable(e.real), name);
      if (v !== undefined) pairs.push([name, v]);
    }
  }
  for (const [k, v] of pairs) {
    try {
      lsetxattr(tmp, k, v);
    } catch {
      // a namespace this host refuses us (security.* without privilege): not fatal to a copy-up
    }
  }
}

function safeList(path: string): string[] {
  try {
    return llistxattr(reachable(path));
  } catch {
    return [];
  }
}

/**
 * A copy of a lower file that no name reaches (made in the work directory, opened read-write,
 * unlinked): the data of a lower file unlinked while open, for the writes that still come to it.
 */
export function privateCopy(work: string, lower: string): number {
  const tmp = `${work}/uo-${process.pid}-${serial++}`;
  try {
    copyFileSync(B(lower), B(tmp), constants.COPYFILE_FICLONE);
    return openPath(tmp, constants.O_RDWR, 0);
  } finally {
    rmSync(B(tmp), { force: true });
  }
}
