import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EntryKind } from '../../../fuse/layer-index.js';
import { holdLowerTree, releaseLowerTree, takeLowerTree, type TakenTree } from '../../../fuse/lower-trees.js';
import type { LowerSpec } from '../../../fuse/lookup.js';
import { writeLayer } from '../../helpers/layers.js';

const dir = mkdtempSync(join(tmpdir(), 'hutch-lower-trees-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A layer of its own, with an index (or plain: no index file) naming `names`. */
function layer(name: string, names: string[], indexed = true): LowerSpec {
  const root = join(dir, name);
  const indexFile = join(dir, `${name}.hli`);
  writeLayer(
    root,
    indexFile,
    names.map((path) => ({ path, kind: EntryKind.File })),
  );
  return indexed ? { dir: root, indexFile } : { dir: root };
}

/** One session over the layers: taken, held, and released once `run` is done. */
function session<T>(specs: LowerSpec[], run: (t: TakenTree) => T): T {
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
