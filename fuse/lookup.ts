import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import { EntryKind, OPAQUE, readLayerIndex, type IndexEntry } from './layer-index.js';
import { isWhiteoutDevice, OPAQUE_MARKER, whiteoutTarget } from './whiteout.js';
import { isOpaqueValue, OPAQUE_XATTRS } from './xattr.js';
import { lgetxattr } from '../src/sys/xattr.js';
import { reachable } from '../src/sys/longpath.js';

/**
 * The merged view of an image's read-only layers. Lower layers never change while mounted, so
 * each directory's merged listing is computed once (for indexed layers: all of them, at mount)
 * and a lookup or a readdir of a lower directory is then a Map access.
 * Paths are byte strings (latin1), relative, '' for the root; layers are numbered top first.
 */
export interface LowerEntry {
  /** The top-most layer that provides this entry. */
  layer: number;
  /** Its file on disk (absolute, latin1); for index-only entries a path that may not exist. */
  real: string;
  /** S_IFMT bits. */
  type: number;
  /** What the layer's index says (ownership, mode, device, xattrs, link target). */
  meta?: IndexEntry;
  /** For directories: the layers (top first) whose directory of this path is merged here. */
  dirLayers?: number[];
  /** For indexed files: how many names the merged tree gives this file (its st_nlink). */
  nlink?: number;
  /**
   * For indexed entries: the index entry's number in the tree, below LowerTree.numbered (hard
   * links share it). Every mount of the tree derives the same st_ino from it, with no table.
   */
  number?: number;
}

export interface LowerTree {
  /** The merged listing of a lower directory, or undefined when no layer shows one there. */
  dir(path: string): Map<string, LowerEntry> | undefined;
  /** Every union path of a hard-linked lower file (indexed layers; undefined when alone). */
  linksOf?(e: LowerEntry): string[] | undefined;
  /** How many numbers the indexed entries take (each entry's `number` is below it); 0 for none. */
  numbered: number;
}

export type LowerSpec = { dir: string; indexFile?: string };

/** Builds the lower tree of layers given top first; indexed when every layer has an index. */
export function openLowerTree(layers: LowerSpec[]): LowerTree {
  if (layers.length > 0 && layers.every((l) => l.indexFile !== undefined)) {
    return buildIndexedTree(layers.map((l) => ({ dir: l.dir, entries: readLayerIndex(l.indexFile!) })));
  }
  return new ScannedTree(layers.map((l) => l.dir));
}

const TYPE_OF: Record<number, number> = {
  [EntryKind.File]: 0o100000,
  [EntryKind.Dir]: 0o040000,
  [EntryKind.Symlink]: 0o120000,
  [EntryKind.Char]: 0o020000,
  [EntryKind.Block]: 0o060000,
  [EntryKind.Fifo]: 0o010000,
  [EntryKind.Socket]: 0o140000,
};
const NOT_ASCII = /[\u0080-\uffff]/;
/** An index path as the tree keys it: relative, no trailing slash, its UTF-8 bytes as latin1. */
const bytesOf = (utf8: string): string => {
  const p =
    utf8.startsWith('/') || utf8.startsWith('./') || utf8.endsWith('/')
      ? utf8.replace(/^\.?\/+/, '').replace(/\/+$/, '')
      : utf8;
  return !NOT_ASCII.test(p) ? p : Buffer.from(p, 'utf8').toString('latin1');
};
const split = (p: string): [string, string] => {
  const i = p.lastIndexOf('/');
  return i < 0 ? ['', p] : [p.slice(0, i), p.slice(i + 1)];
};

type Listing = Map<string, LowerEntry>;

/** Merges indexed layers (top first) into one map of directories, bottom layer first. */
export function buildIndexedTree(layers: { dir: string; entries: IndexEntry[] }[]): LowerTree {
  const dirs = new Map<string, Listing>([['', new Map()]]);
  // Each layer's entries are numbered from the count of the layers above it: entry i of layer L is
  // number offsets[L] + i.
  const offsets: number[] = [];
  let numbered = 0;
  for (const l of layers) {
    offsets.push(numbered);
    numbered += l.entries.length;
  }
  // The index entries hard links name: only these can have several names in the merged tree.
  const linked = new Set<IndexEntry>();
  for (let layer = layers.length - 1; layer >= 0; layer--)
    applyLayer(dirs, layer, layers[layer]!.dir, layers[layer]!.entries, offsets[layer]!, linked);
  const groups = linkGroups(dirs, linked);
  if (groups.size > 0)
    for (const listing of dirs.values())
      for (const e of listing.values()) {
        const names = e.meta !== undefined && e.type !== 0o040000 ? groups.get(e.meta) : undefined;
        if (names !== undefined) e.nlink = names.length;
      }
  return {
    dir: (path) => dirs.get(path),
    linksOf: (e) => (e.meta === undefined ? undefined : groups.get(e.meta)),
    numbered,
  };
}

/** The names of each file that has several in the merged tree (one index entry, many paths). */
function linkGroups(dirs: Map<string, Listing>, linked: Set<IndexEntry>): Map<IndexEntry, string[]> {
  const all = new Map<IndexEntry, string[]>();
  if (linked.size === 0) return all;
  for (const [dir, listing] of dirs) {
    for (const [name, e] of listing) {
      if (e.type !== 0o100000 || e.meta === undefined || !linked.has(e.meta)) continue;
      const paths = all.get(e.meta) ?? [];
      paths.push(dir === '' ? name : `${dir}/${name}`);
      all.set(e.meta, paths);
    }
  }
  for (const [k, v] of all) if (v.length < 2) all.delete(k);
  return all;
}

/** Forgets a directory's merged listing and everything below it. */
function dropTree(dirs: Map<string, Listing>, path: string): void {
  const listing = dirs.get(path);
  if (listing === undefined) return;
  dirs.delete(path);
  for (const [name, e] of listing) if (e.type === 0o040000) dropTree(dirs, path === '' ? name : `${path}/${name}`);
}

/** The listing of a directory, made (with its parents) when a layer implies it without an entry. */
function ensureDir(dirs: Map<string, Listing>, path: string, layer: number, real: string): Listing {
  let listing = dirs.get(path);
  if (listing !== undefined) return listing;
  const [parent, name] = split(path);
  ensureDir(dirs, parent, layer, real).set(name, {
    layer,
    real: `${real}/${path}`,
    type: 0o040000,
    dirLayers: [layer],
  });
  listing = new Map();
  dirs.set(path, listing);
  return listing;
}

/**
 * Lays one layer over the merged tree: its whiteouts and opaque directories first, then its
 * entries, each numbered `first` + its place in `entries`; the entries its hard links name go to `linked`.
 */
function applyLayer(
  dirs: Map<string, Listing>,
  layer: number,
  dir: string,
  entries: IndexEntry[],
  first: number,
  linked: Set<IndexEntry>,
): void {
  const real = Buffer.from(dir).toString('latin1');
  const byPath = new Map(entries.map((e, i) => [bytesOf(e.path), i]));
  for (const [path, i] of byPath) {
    const e = entries[i]!;
    if (e.kind === EntryKind.Whiteout) {
      const [parent, name] = split(path);
      dirs.get(parent)?.delete(name);
      dropTree(dirs, path);
    } else if (e.kind === EntryKind.Dir && (e.flags & OPAQUE) !== 0) dropTree(dirs, path);
  }
  for (const [path, i] of byPath) {
    const e = entries[i]!;
    if (e.kind === EntryKind.Whiteout) continue;
    if (path === '') {
      dirs.get('')!.set('', { layer, real, type: 0o040000, meta: e, number: first + i });
      continue;
    }
    const [parent, name] = split(path);
    const at = e.kind === EntryKind.Hardlink ? byPath.get(bytesOf(e.link)) : i;
    if (at === undefined) continue;
    const target = entries[at]!;
    if (at !== i) linked.add(target);
    const type = TYPE_OF[target.kind] ?? 0o100000;
    const listing = ensureDir(dirs, parent, layer, real);
    const old = listing.get(name);
    if (type !== 0o040000 || (old !== undefined && old.type !== 0o040000)) dropTree(dirs, path);
    const file = e.kind === EntryKind.Hardlink ? `${real}/${bytesOf(e.link)}` : `${real}/${path}`;
    const dirLayers =
      type === 0o040000 ? (old?.type === 0o040000 ? [layer, ...(old.dirLayers ?? [])] : [layer]) : undefined;
    listing.set(name, { layer, real: file, type, meta: target, dirLayers, number: first + at });
    if (type === 0o040000 && !dirs.has(path)) dirs.set(path, new Map());
  }
}

const typeOfStats = (s: Stats): number => s.mode & 0o170000;

/** Plain directories as fuse-overlayfs takes them: each directory merged on first use. */
export class ScannedTree implements LowerTree {
  readonly numbered = 0;
  private readonly dirs = new Map<string, Map<string, LowerEntry> | undefined>();
  private readonly roots: string[];

  constructor(layerDirs: string[]) {
    this.roots = layerDirs.map((d) => Buffer.from(d).toString('latin1'));
  }

  dir(path: string): Map<string, LowerEntry> | undefined {
    if (this.dirs.has(path)) return this.dirs.get(path);
    let layers: number[] | undefined;
    if (path === '') layers = this.roots.map((_, i) => i);
    else {
      const [parent, name] = split(path);
      const e = this.dir(parent)?.get(name);
      layers = e?.type === 0o040000 ? e.dirLayers : undefined;
    }
    const listing = layers === undefined ? undefined : this.merge(path, layers);
    this.dirs.set(path, listing);
    return listing;
  }

  private merge(path: string, layers: number[]): Map<string, LowerEntry> {
    const entries = new Map<string, LowerEntry>();
    const hidden = new Set<string>();
    const closed = new Set<string>();
    for (const layer of layers) {
      const base = path === '' ? this.roots[layer]! : `${this.roots[layer]}/${path}`;
      let dirents: Dirent[];
      try {
        dirents = readdirSync(Buffer.from(reachable(base), 'latin1'), {
          encoding: 'buffer',
          withFileTypes: true,
        }) as unknown as Dirent[];
      } catch {
        continue;
      }
      const seen: string[] = [];
      let opaque = false;
      for (const d of dirents) {
        const name = (d.name as unknown as Buffer).toString('latin1');
        if (name === OPAQUE_MARKER) {
          opaque = true;
          continue;
        }
        const target = whiteoutTarget(name);
        if (target !== undefined) {
          if (entries.has(target)) closed.add(target);
          seen.push(target);
          continue;
        }
        this.add(entries, hidden, closed, layer, `${base}/${name}`, name, direntType(d));
        seen.push(name);
      }
      for (const name of seen) hidden.add(name);
      if (opaque || OPAQUE_XATTRS.some((x) => isOpaqueValue(safeXattr(base, x)))) break;
    }
    return entries;
  }

  /** Adds one layer's entry under the merge rules; `type` from the dirent (0: unknown, ask lstat). */
  private add(
    entries: Map<string, LowerEntry>,
    hidden: Set<string>,
    closed: Set<string>,
    layer: number,
    real: string,
    name: string,
    type: number,
  ): void {
    const old = entries.get(name);
    if (old === undefined && hidden.has(name)) return;
    if (old !== undefined && (old.type !== 0o040000 || closed.has(name))) return;
    if (type === 0 || type === 0o020000) {
      // Only character devices can be whiteouts (0/0); only they, and unknown types, need a stat.
      const st = lstatSync(Buffer.from(reachable(real), 'latin1'), { throwIfNoEntry: false });
      if (st === undefined) return;
      if (isWhiteoutDevice(st.mode, st.rdev)) {
        if (old !== undefined) closed.add(name);
        return;
      }
      type = typeOfStats(st);
    }
    if (old !== undefined) {
      // A non-directory in a middle layer hides the directories below it.
      if (type === 0o040000) old.dirLayers!.push(layer);
      else closed.add(name);
      return;
    }
    entries.set(name, { layer, real, type, dirLayers: type === 0o040000 ? [layer] : undefined });
  }
}

function direntType(d: Dirent): number {
  if (d.isFile()) return 0o100000;
  if (d.isDirectory()) return 0o040000;
  if (d.isSymbolicLink()) return 0o120000;
  if (d.isCharacterDevice()) return 0o020000;
  if (d.isBlockDevice()) return 0o060000;
  if (d.isFIFO()) return 0o010000;
  if (d.isSocket()) return 0o140000;
  return 0;
}

function safeXattr(path: string, name: string): Buffer | undefined {
  try {
    return lgetxattr(reachable(path), name);
  } catch {
    return undefined;
  }
}
