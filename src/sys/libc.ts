import { SysError } from '../errors.js';
import { errnoName } from './errno-name.js';
import { loadKoffi } from './koffi.js';

const koffi = loadKoffi();

/**
 * The one handle on libc. Files in src/sys/ (and fuse/libfuse.ts for libfuse) are the only ones
 * that use koffi (loaded by koffi.ts); they declare functions through `libcFunction` and call them
 * through `check`, which turns a -1 return into a SysError carrying the errno read right after the call.
 */
export const libc = koffi.load('libc.so.6');

export { errnoName };

/** Declares a libc function from a C prototype, e.g. `int prctl(int, unsigned long, ...)`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the prototype says
export function libcFunction(prototype: string): (...args: any[]) => any {
  return libc.func(prototype);
}

/** Calls a libc function returning int/ssize_t; throws SysError when it returns a negative value. */
export function check<T extends number | bigint>(syscall: string, result: T, path?: string): T {
  if (result >= 0) return result;
  const errno = koffi.errno();
  throw new SysError(syscall, errno, errnoName(errno), path);
}

let pathBuf = Buffer.alloc(4096);

/**
 * A path (a latin1 byte string) as a NUL-terminated C string in one reused buffer, valid until
 * the next call: the FUSE daemon's hot calls (lstat, open) allocate nothing for their path.
 */
export function reusedCPath(path: string): Buffer {
  if (path.length + 1 > pathBuf.length) pathBuf = Buffer.alloc(path.length + 1);
  pathBuf[pathBuf.write(path, 'latin1')] = 0;
  return pathBuf;
}

export { koffi };
