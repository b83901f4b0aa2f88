import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether `path` exists in the tree at `root` as a process chrooted there would see it: every
 * component, symlinks included, resolves inside the root ("/.." stays at the root; an absolute
 * link target starts again from it), as openat2's RESOLVE_IN_ROOT does. A tree is never joined
 * on the host with a path from it. Unresolvable (a loop, too many links, EACCES) counts as absent.
 */
export function existsInRoot(root: string, path: string): boolean {
  return resolveInRoot(root, path) !== undefined;
}

/**
 * The text of file `path` of the tree at `root`, resolved as existsInRoot does, or undefined when
 * it is absent, unresolvable or not a regular file: a tree's `etc/passwd -> /etc/passwd` reads the
 * tree's own /etc/passwd, never the host's. The last component is opened with O_NOFOLLOW, so a
 * link swapped in after the walk fails the read instead of leaving the root.
 */
export function readFileInRoot(root: string, path: string): string | undefined {
  const found = resolveInRoot(root, path);
  if (found === undefined) return undefined;
  let fd: number;
  try {
    fd = openSync(found, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    // A regular file only: a FIFO is not waited on (O_NONBLOCK), a device is not read.
    return fstatSync(fd).isFile() ? readFileSync(fd, 'utf8') : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The host path `path` of the tree at `root` resolves to, with no symlink left in it, or undefined. */
function resolveInRoot(root: string, path: string): string | undefined {
  const todo = components(path);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, name);
    let isLink: boolean;
    try {
      isLink = lstatSync(here).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (!isLink) {
      done.push(name);
      continue;
    }
    if (++links > 40) return undefined; // ELOOP, as the kernel counts
    const target = readlinkSync(here);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...components(target));
  }
  return join(root, ...done);
}

/** The names of a path, without "." and empty ones; ".." is kept, to apply after what precedes it resolved. */
function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}
