import { SysError } from '../src/errors.js';

/** An errno the union replies with; ops throw it and the adapter turns it into `-errno`. */
export class FsError extends Error {
  constructor(
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `errno ${errno}`);
  }
}

export const ENOENT = 2;
export const EIO = 5;
export const EBADF = 9;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ERANGE = 34;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ENODATA = 61;
export const EPERM = 1;
export const EOPNOTSUPP = 95;

/**
 * The errno for anything an op threw: ours, a SysError from src/sys, or a Node fs error (whose
 * errno is negative). Anything else is a bug: EIO, and `unexpected` is told.
 */
export function toErrno(e: unknown, unexpected: (e: unknown) => void): number {
  if (e instanceof FsError) return e.errno;
  if (e instanceof SysError) return Math.abs(e.errno);
  const errno = (e as NodeJS.ErrnoException | undefined)?.errno;
  if (typeof errno === 'number' && errno !== 0 && typeof (e as NodeJS.ErrnoException).syscall === 'string')
    return Math.abs(errno);
  unexpected(e);
  return EIO;
}
