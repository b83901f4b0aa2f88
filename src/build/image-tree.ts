import { EntryKind, type IndexEntry } from '../../fuse/layer-index.js';
import { mergedLower } from '../engine/commit/index.js';
import type { Store } from '../image/store.js';
import { UsageError } from '../errors.js';

/** The merged view of an image's layers: each path's topmost entry and the layer directory holding its data. */
export type ImageTree = Map<string, { entry: IndexEntry; dir: string }>;

export function imageTree(store: Store, layers: { diffId: string }[]): ImageTree {
  return mergedLower(layers.map((l) => ({ dir: store.layerRoot(l.diffId), index: store.layerIndex(l.diffId) })));
}

/** `a/b/../c` -> `a/c`, never above the root; no leading or trailing slash. */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/**
 * Resolves `path` inside the image's root as the kernel would inside the container: every
 * symlink met on the way (the last one too, unless `followLast` is false) is followed, an
 * absolute target from the root, `..` never above it. Returns the path relative to the root.
 */
export function resolveInTree(tree: ImageTree, path: string, followLast = true): string {
  let todo = cleanPath(path).split('/').filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; todo.length > 0;) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = [...done, part].join('/');
    const e = tree.get(here)?.entry;
    if (e?.kind !== EntryKind.Symlink || (!followLast && todo.length === 0)) {
      done.push(part);
      continue;
    }
    if (++hops > 40)
      throw new UsageError('BUILD_PATH_LOOP', `cannot resolve /${path} in the image: too many symbolic links`, {
        hint: 'fix the symbolic links of the image at that path',
      });
    if (e.link.startsWith('/')) done.length = 0;
    todo = [...e.link.split('/').filter((p) => p !== '' && p !== '.'), ...todo];
  }
  return done.join('/');
}

/** Whether `path` (resolved) is a directory of the image. */
export function isTreeDir(tree: ImageTree, path: string): boolean {
  return path === '' || tree.get(path)?.entry.kind === EntryKind.Dir;
}
