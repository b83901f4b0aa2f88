import { koffi, libcFunction, errnoName } from './libc.js';
import { SysError } from '../errors.js';

/**
 * Extended attributes on paths, without following symlinks (l*xattr). Paths and names are
 * taken as Buffers or byte strings (latin1) so that names that are not UTF-8 survive.
 */
const lgetxattrC = libcFunction('intptr_t lgetxattr(void *path, void *name, void *value, size_t size)');
const lsetxattrC = libcFunction('int lsetxattr(void *path, void *name, void *value, size_t size, int flags)');
const llistxattrC = libcFunction('intptr_t llistxattr(void *path, void *list, size_t size)');
const lremovexattrC = libcFunction('int lremovexattr(void *path, void *name)');
const fgetxattrC = libcFunction('intptr_t fgetxattr(int fd, void *name, void *value, size_t size)');

/** A NUL-terminated C string from a byte string (latin1) or Buffer. */
export function cstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const out = Buffer.allocUnsafe(b.length + 1);
  b.copy(out);
  out[b.length] = 0;
  return out;
}

// Attribute names repeat (override_stat, security.capability on every write): encode each once.
const names = new Map<string, Buffer>();
function cname(name: string): Buffer {
  let b = names.get(name);
  if (b === undefined) {
    b = cstr(name);
    if (names.size < 1024) names.set(name, b);
  }
  return b;
}

function fail(syscall: string, path: string | Buffer): never {
  const errno = Math.abs(koffi.errno());
  throw new SysError(syscall, errno, errnoName(errno), path.toString());
}

/** The value of an xattr, or undefined when it is absent (ENODATA). */
export function lgetxattr(path: string | Buffer, name: string): Buffer | undefined {
  const p = cstr(path);
  const n = cname(name);
  for (;;) {
    const size = Number(lgetxattrC(p, n, null, 0));
    if (size < 0) return absent('lgetxattr', path);
    const buf = Buffer.allocUnsafe(size);
    const got = Number(lgetxattrC(p, n, buf, size));
    if (got >= 0) return buf.subarray(0, got);
    if (Math.abs(koffi.errno()) !== 34 /* ERANGE: it grew */) return absent('lgetxattr', path);
  }
}

/** Like lgetxattr, on an open fd. */
export function fgetxattr(fd: number, name: string): Buffer | undefined {
  const n = cname(name);
  const buf = Buffer.allocUnsafe(256);
  const got = Number(fgetxattrC(fd, n, buf, 256));
  if (got >= 0) return buf.subarray(0, got);
  return absent('fgetxattr', String(fd));
}

function absent(syscall: string, path: string | Buffer): undefined {
  const e = Math.abs(koffi.errno());
  if (e === 61 /* ENODATA */ || e === 95 /* ENOTSUP */) return undefined;
  return fail(syscall, path);
}

/** Sets an xattr; flags are XATTR_CREATE (1) / XATTR_REPLACE (2). */
export function lsetxattr(path: string | Buffer, name: string, value: Buffer, flags = 0): void {
  if (lsetxattrC(cstr(path), cname(name), value, value.length, flags) < 0) fail('lsetxattr', path);
}

/** The names of a path's xattrs (latin1 strings). */
export function llistxattr(path: string | Buffer): string[] {
  const p = cstr(path);
  for (;;) {
    const size = Number(llistxattrC(p, null, 0));
    if (size < 0) {
      if (Math.abs(koffi.errno()) === 95) return [];
      fail('llistxattr', path);
    }
    if (size === 0) return [];
    const buf = Buffer.allocUnsafe(size);
    const got = Number(llistxattrC(p, buf, size));
    if (got >= 0)
      return buf
        .toString('latin1', 0, got)
        .split('\0')
        .filter((s) => s !== '');
    if (Math.abs(koffi.errno()) !== 34) fail('llistxattr', path);
  }
}

/** Removes an xattr; false when it was not there (ENODATA), without the cost of an exception. */
export function lremovexattr(path: string | Buffer, name: string): boolean {
  if (lremovexattrC(cstr(path), cname(name)) >= 0) return true;
  if (Math.abs(koffi.errno()) === 61) return false;
  return fail('lremovexattr', path);
}
