import { check, libcFunction } from './libc.js';

const chrootC = libcFunction('int chroot(const char *path)');

/**
 * Makes `path` this process's root and its working directory (chroot(2), then chdir "/"): from
 * then on every path, `..` and symlink target resolves inside it, as the kernel enforces. Needs
 * CAP_SYS_CHROOT in the process's user namespace (hutch's copier is root of the container's).
 */
export function enterRoot(path: string): void {
  check('chroot', chrootC(path), path);
  process.chdir('/');
}
