import { check, koffi, libcFunction, errnoName, reusedCPath } from './libc.js';
import { SysError } from '../errors.js';

/**
 * lstat(2) straight into one reused struct stat: no fs.Stats object (with its four Dates) per
 * call, and times in whole nanoseconds. The FUSE daemon stats a file after nearly every change.
 */
const lstatC = libcFunction('int lstat(void *path, void *buf)');
const fstatC = libcFunction('int fstat(int fd, void *buf)');
const ENOENT = 2;
// x86_64 struct stat (144 bytes); see docs/architecture.md, "Binary layouts".
const st = Buffer.alloc(144);

/** The fields of a struct stat; times as seconds and nanoseconds. */
export interface RawStat {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
}

const u64 = (at: number): number => st.readUInt32LE(at) + st.readUInt32LE(at + 4) * 0x100000000;
const i64 = (at: number): number => st.readUInt32LE(at) + st.readInt32LE(at + 4) * 0x100000000;

/** lstat of a path (a latin1 byte string); undefined when it does not exist, SysError otherwise. */
export function lstatRaw(path: string): RawStat | undefined {
  return lstatInto(path, st) ? decoded() : undefined;
}

/** fstat of an open file (no path walk). */
export function fstatRaw(fd: number): RawStat {
  fstatInto(fd, st);
  return decoded();
}

/**
 * lstat of a path straight into `out` (a struct stat's 144 bytes, e.g. a FUSE reply's); false
 * when it does not exist. Nothing decoded: the caller patches the fields it changes.
 */
export function lstatInto(path: string, out: Buffer): boolean {
  if (lstatC(reusedCPath(path), out) < 0) {
    const errno = Math.abs(koffi.errno());
    if (errno === ENOENT) return false;
    throw new SysError('lstat', errno, errnoName(errno), path);
  }
  return true;
}

/** fstat of an open file straight into `out` (see lstatInto). */
export function fstatInto(fd: number, out: Buffer): void {
  check('fstat', fstatC(fd, out) as number, `fd ${fd}`);
}

function decoded(): RawStat {
  return {
    ino: u64(8),
    nlink: u64(16),
    mode: st.readUInt32LE(24),
    uid: st.readUInt32LE(28),
    gid: st.readUInt32LE(32),
    rdev: u64(40),
    size: i64(48),
    blocks: i64(64),
    atimeSec: i64(72),
    atimeNsec: i64(80),
    mtimeSec: i64(88),
    mtimeNsec: i64(96),
    ctimeSec: i64(104),
    ctimeNsec: i64(112),
  };
}
