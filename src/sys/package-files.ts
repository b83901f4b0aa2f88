import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * hutch's own folder: the first one above this code (src/sys in a checkout, dist/bundle in a
 * checkout or an installed package) holding native/Makefile, which a checkout and every npm
 * tarball carry. Binaries and libraries hutch runs or loads are looked for there and only there:
 * a folder above it (/tmp, a shared parent of the checkout) is not hutch's, and a native/ planted
 * in it by another user must never be run or loaded, even when hutch's own is not built.
 */
export function packageRoot(from: string = import.meta.dirname): string | undefined {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'native', 'Makefile'))) return dir;
  }
  return undefined;
}

/** native/NAME of hutch's own folder when it is built; undefined when it is not. */
export function nativeFile(name: string, from?: string): string | undefined {
  const root = packageRoot(from);
  const path = root === undefined ? undefined : join(root, 'native', name);
  return path !== undefined && existsSync(path) ? path : undefined;
}
