import { koffi, libcFunction, errnoName } from './libc.js';
import { SysError } from '../errors.js';
import { cstr } from './xattr.js';

/**
 * File-system calls Node lacks: mknod (FIFOs, sockets, whiteouts), renameat2 (NOREPLACE,
 * EXCHANGE), pwrite from a raw pointer (FUSE write buffers, no copy into JS), umount2.
 */
const mknodC = libcFunction('int mknod(void *path, uint32_t mode, uint64_t dev)');
const renameat2C = libcFunction(
  'int renameat2(int olddirfd, void *oldpath, int newdirfd, void *newpath, unsigned int flags)',
);
const pwriteC = libcFunction('intptr_t pwrite(int fd, void *buf, size_t count, int64_t offset)');
const umount2C = libcFunction('int umount2(const char *target, int flags)');
const fsyncC = libcFunction('int fdatasync(int fd)');

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const MNT_DETACH = 2;
const AT_FDCWD = -100;

function fail(syscall: string, path: string | Buffer): never {
  const errno = Math.abs(koffi.errno());
  throw new SysError(syscall, errno, errnoName(errno), path.toString());
}

/** mknod(2) with a full mode (type bits included) and a device number (makedev). */
export function mknod(path: string | Buffer, mode: number, dev: number): void {
  if (mknodC(cstr(path), mode, dev) < 0) fail('mknod', path);
}

/** renameat2(2) between two paths (relative to the cwd or absolute). */
export function renameat2(from: string | Buffer, to: string | Buffer, flags: number): void {
  if (renameat2C(AT_FDCWD, cstr(from), AT_FDCWD, cstr(to), flags) < 0) fail('renameat2', from);
}

/** pwrite(2) from a native pointer (a bigint from koffi); returns the count written. */
export function pwritePointer(fd: number, pointer: bigint, size: number, offset: number): number {
  const n = Number(pwriteC(fd, pointer, size, offset));
  if (n < 0) fail('pwrite', String(fd));
  return n;
}

/** fdatasync(2). */
export function fdatasync(fd: number): void {
  if (fsyncC(fd) < 0) fail('fdatasync', String(fd));
}

/** umount2(2); flags MNT_DETACH for a lazy unmount. */
export function umount2(target: string, flags = 0): void {
  if (umount2C(target, flags) < 0) fail('umount2', target);
}

const utimensatC = libcFunction('int utimensat(int dirfd, void *path, void *times, int flags)');
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const AT_SYMLINK_NOFOLLOW = 0x100;

/** A timestamp for utimens: [seconds, nanoseconds], 'now', or undefined to leave it. */
export type Time = [number, number] | 'now' | undefined;

const timespecs = Buffer.alloc(32);

/**
 * The two struct timespec of utimensat(2) and futimens(2), in one reused buffer (the call that
 * takes it is synchronous); 32-bit writes, no BigInt: the FUSE daemon sets times on every file
 * a container unpacks.
 */
export function packTimes(atime: Time, mtime: Time): Buffer {
  const put = (t: Time, at: number): void => {
    const now = t === undefined || t === 'now';
    timespecs.writeUInt32LE(now ? 0 : t[0] >>> 0, at);
    timespecs.writeInt32LE(now ? 0 : Math.floor(t[0] / 0x100000000), at + 4);
    timespecs.writeUInt32LE(now ? (t === 'now' ? UTIME_NOW : UTIME_OMIT) : t[1], at + 8);
    timespecs.writeUInt32LE(0, at + 12);
  };
  put(atime, 0);
  put(mtime, 16);
  return timespecs;
}

/** utimensat(2) with nanoseconds, without following a symlink. */
export function utimens(path: string | Buffer, atime: Time, mtime: Time): void {
  if (utimensatC(AT_FDCWD, cstr(path), packTimes(atime, mtime), AT_SYMLINK_NOFOLLOW) < 0) fail('utimensat', path);
}

/** makedev(3) for the usual 12/20-bit split. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
}

/** major(3)/minor(3). */
export function devMajor(dev: number): number {
  return (dev >>> 8) & 0xfff;
}
export function devMinor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}
