import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeLayerIndex, EntryKind, type IndexEntry } from '../../../fuse/layer-index.js';
import { holdLowerTree, releaseLowerTree, takeLowerTree } from '../../../fuse/lower-trees.js';
import type { LowerSpec } from '../../../fuse/lookup.js';

const dir = mkdtempSync(join(tmpdir(), 'hutch-lower-trees-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (path: string): IndexEntry => ({
  path,
  kind: EntryKind.File,
  flags: 0,
  mode: 0o644,
  uid: 0,
  gid: 0,
  rdev: 0,
  size: 0,
  mtimeSec: 0,
  mtimeNsec: 0,
  link: '',
  xattrs: new Map(),
});

/** A layer of its own, with an index (or plain: no index file) naming `names`. */
function layer(name: string, names: string[], indexed = true): LowerSpec {
  const root = join(dir, name);
  mkdirSync(root);
  if (!indexed) return { dir: root };
  const indexFile = join(dir, `${name}.hli`);
  writeFileSync(indexFile, encodeLayerIndex(names.map(file)));
  return { dir: root, indexFile };
}

/** One session over the layers: taken, held, and released once `run` is done. */
function session<T>(specs: LowerSpec[], run: (t: ReturnType<typeof takeLowerTree>) => T): T {
  const t = takeLowerTree(specs);
  holdLowerTree(t);
  try {
    return run(t);
  } finally {
    releaseLowerTree(t.key);
  }
}

describe('the shared daemon lower trees (fuse/lower-trees.ts)', () => {
  it('shares the tree of the sessions in use, and keeps the last indexed one after them', () => {
    const specs = [layer('a', ['x', 'y'])];
    const first = session(specs, (t) => {
      // A second session over the same layers meanwhile gets the same tree.
      expect(session(specs, (u) => u.tree)).toBe(t.tree);
      return t.tree;
    });
    expect([...first.dir('')!.keys()].sort()).toEqual(['x', 'y']);
    // Kept: the next session takes it, not a new read.
    expect(session(specs, (t) => t.tree)).toBe(first);
  });

  it('reads again once an index file is not the one read (its mtime here), and keeps the new tree', () => {
    const specs = [layer('b', ['x'])];
    const before = session(specs, (t) => t.tree);
    utimesSync(specs[0]!.indexFile!, new Date(), new Date(2001, 0, 1));
    const after = session(specs, (t) => t.tree);
    expect(after).not.toBe(before);
    expect(session(specs, (t) => t.tree)).toBe(after);
  });

  it('keeps only the last tree left, and never one of plain directories', () => {
    const one = [layer('c', ['x'])];
    const two = [layer('d', ['y'])];
    const plain = [layer('e', [], false)];
    const kept = session(one, (t) => t.tree);
    session(two, () => undefined); // the last left now: one's tree goes
    expect(session(one, (t) => t.tree)).not.toBe(kept);
    const scanned = session(plain, (t) => t.tree);
    expect(session(plain, (t) => t.tree)).not.toBe(scanned);
  });
});
