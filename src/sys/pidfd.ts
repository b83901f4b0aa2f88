import { closeSync } from 'node:fs';
import { check, libcFunction } from './libc.js';

const pidfdOpen = libcFunction('int pidfd_open(int pid, unsigned int flags)');
const pidfdGetfd = libcFunction('int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)');

/**
 * Duplicates file descriptor `targetFd` of process `pid` into this process (pidfd_getfd(2)).
 * Needs ptrace access to the target: hutch has it over processes in user namespaces it created.
 */
export function takeFd(pid: number, targetFd: number): number {
  const pidfd = check('pidfd_open', pidfdOpen(pid, 0) as number, `pid ${pid}`);
  try {
    return check('pidfd_getfd', pidfdGetfd(pidfd, targetFd, 0) as number, `pid ${pid} fd ${targetFd}`);
  } finally {
    closeSync(pidfd);
  }
}
