import { statSync } from 'node:fs';
import { openLowerTree, type LowerSpec, type LowerTree } from './lookup.js';
import { trace } from '../src/sys/trace.js';

/**
 * The shared daemon's lower trees (fuse/shared.ts): one per set of layers, shared by the sessions
 * over them (read-only: one copy for all). When its last session ends, an indexed tree is kept
 * for the next run while the daemon lingers: a run after a run of the same image (a script's
 * steps, a job array's tasks) then skips reading and merging the layers' indexes, ~30 ms for a
 * Debian image and ~125 ms for 64k files. Only the last such tree is kept, and only while each
 * index file is the one it was read from (same inode, size and mtime: a store's indexes never
 * change, but a path given by hand may). Plain directories (no index) are never kept: they may
 * change between mounts, and a tree of them is merged lazily anyway.
 */
interface LowerUse {
  tree: LowerTree;
  users: number;
  /** The index files' identity when read; undefined: not every layer has an index. */
  stamp: string | undefined;
}

const uses = new Map<string, LowerUse>();

/** The identity of every layer's index file, or undefined when one has none or cannot be read. */
function indexStamp(specs: LowerSpec[]): string | undefined {
  let stamp = '';
  for (const l of specs) {
    if (l.indexFile === undefined) return undefined;
    try {
      const st = statSync(l.indexFile, { bigint: true });
      stamp += `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs};`;
    } catch {
      return undefined; // openLowerTree says why
    }
  }
  return stamp;
}

/** The layers' tree, as `takeLowerTree` gives it and `holdLowerTree` counts it. */
export interface TakenTree {
  key: string;
  tree: LowerTree;
  stamp: string | undefined;
}

/** The tree of these layers: the one in use or kept, else read now (not counted until held). */
export function takeLowerTree(specs: LowerSpec[]): TakenTree {
  const key = JSON.stringify(specs);
  const use = uses.get(key);
  if (use !== undefined && use.users > 0) return { key, tree: use.tree, stamp: use.stamp }; // no stat: in use
  const stamp = indexStamp(specs);
  if (use !== undefined && stamp !== undefined && use.stamp === stamp) {
    trace('fs shared lower tree kept, taken');
    return { key, tree: use.tree, stamp };
  }
  return { key, tree: openLowerTree(specs), stamp };
}

/** A session over the tree now serves (its mount is watched). */
export function holdLowerTree(t: TakenTree): void {
  const use = uses.get(t.key);
  if (use !== undefined && use.tree === t.tree) use.users++;
  else uses.set(t.key, { tree: t.tree, users: 1, stamp: t.stamp });
}

/** A session over the tree `key` ended: the last one left keeps an indexed tree, and only that one. */
export function releaseLowerTree(key: string): void {
  const use = uses.get(key);
  if (use === undefined || --use.users > 0) return;
  for (const [other, u] of uses) if (u.users === 0 && (other !== key || use.stamp === undefined)) uses.delete(other);
}
