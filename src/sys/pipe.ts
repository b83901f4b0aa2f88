import { check, libcFunction } from './libc.js';

const pipe2Fn = libcFunction('int pipe2(void *fds, int flags)');
const O_CLOEXEC = 0o2000000;

/** A pipe (pipe(2)), close-on-exec; both fds are the caller's to close. Node has no pipe call. */
export function pipe(): { read: number; write: number } {
  const fds = Buffer.alloc(8);
  check('pipe2', pipe2Fn(fds, O_CLOEXEC));
  return { read: fds.readInt32LE(0), write: fds.readInt32LE(4) };
}

const mkfifoFn = libcFunction('int mkfifo(const char *path, uint32_t mode)');

/** Makes a fifo (mkfifo(3)); Node has no call for it. */
export function mkfifo(path: string, mode = 0o600): void {
  check('mkfifo', mkfifoFn(path, mode), path);
}
