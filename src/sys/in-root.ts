import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether `path` exists in the tree at `root` as a process chrooted there would see it: every
 * component, symlinks included, resolves inside the root ("/.." stays at the root; an absolute
 * link target starts again from it), as openat2's RESOLVE_IN_ROOT does. A tree is never joined
 * on the host with a path from it. Unresolvable (a loop, too many links, EACCES) counts as absent.
 */
export function existsInRoot(root: string, path: string): boolean {
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
      return false;
    }
    if (!isLink) {
      done.push(name);
      continue;
    }
    if (++links > 40) return false; // ELOOP, as the kernel counts
    const target = readlinkSync(here);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...components(target));
  }
  return true;
}

/** The names of a path, without "." and empty ones; ".." is kept, to apply after what precedes it resolved. */
function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}
