import { createHash } from 'node:crypto';
import { createReadStream, readlinkSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EntryKind, type IndexEntry } from '../../fuse/layer-index.js';
import { contextSources, walkContext, type BuildContext } from './context.js';
import { cleanPath, isTreeDir, resolveInTree, type ImageTree } from './image-tree.js';
import type { LayerEntry } from './layer.js';
import { invalid, type Instruction } from './parser.js';

/** Where a COPY's files come from: the context, or another stage's (or image's) tree. */
export type CopySource = { kind: 'context'; ctx: BuildContext } | { kind: 'image'; tree: ImageTree; id: string };

export interface CopyOptions {
  /** The image's tree the files land in, and its working directory. */
  tree: ImageTree;
  workdir: string;
  owner?: { uid: number; gid: number };
  chmod?: number;
}

/**
 * The entries a COPY (or ADD of plain files) writes: a directory source's contents go into the
 * destination, a file goes to DEST, or into it when DEST ends in `/`, names a directory of the
 * image, or there are several sources. Owners are 0:0 unless --chown, modes the source's unless
 * --chmod.
 */
export function copyEntries(ins: Instruction, words: string[], from: CopySource, opts: CopyOptions): LayerEntry[] {
  if (words.length < 2) throw invalid(ins, `${ins.name} takes SOURCE... DEST`);
  const sources = words.slice(0, -1);
  const destWord = words.at(-1)!;
  const destPath = resolveInTree(opts.tree, destWord.startsWith('/') ? destWord : join(opts.workdir, destWord));
  const intoDir =
    destWord.endsWith('/') || sources.length > 1 || isTreeDir(opts.tree, destPath) || /[*?[]/.test(sources[0]!);
  const out: LayerEntry[] = [];
  for (const src of sources) {
    for (const item of sourceItems(ins, src, from)) {
      const base = item.isDir || !intoDir ? destPath : join(destPath, basename(item.rel));
      for (const f of item.files) {
        const name = cleanPath(f.sub === '' ? base : join(base, f.sub));
        if (name === '') continue; // the root itself keeps its metadata
        out.push(finish(f.entry, name, opts));
      }
    }
  }
  return out;
}

interface SourceItem {
  rel: string;
  isDir: boolean;
  files: { sub: string; entry: LayerEntry }[];
}

function sourceItems(ins: Instruction, src: string, from: CopySource): SourceItem[] {
  if (from.kind === 'context') {
    return contextSources(from.ctx, src, ins.where).map((rel) => {
      const files = walkContext(from.ctx, rel);
      return {
        rel,
        isDir: files[0]!.st.isDirectory(),
        files: files.map((f) => ({ sub: f.rel.slice(rel.length).replace(/^\//, ''), entry: fromStat(f.path, f.st) })),
      };
    });
  }
  const rel = resolveInTree(from.tree, src);
  const top = from.tree.get(rel);
  if (top === undefined && rel !== '') throw invalid(ins, `${src} is not in the image or stage it copies from`);
  const files = [...from.tree]
    .filter(([p]) => p === rel || rel === '' || p.startsWith(rel + '/'))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([p, { entry, dir }]) => {
      const e = fromIndex(entry, dir);
      return e === undefined ? [] : [{ sub: rel === '' ? p : p.slice(rel.length).replace(/^\//, ''), entry: e }];
    });
  return [{ rel, isDir: rel === '' || top?.entry.kind === EntryKind.Dir, files }];
}

function fromStat(path: string, st: Stats): LayerEntry {
  const common = { name: '', mode: st.mode & 0o7777, mtime: st.mtime };
  if (st.isDirectory()) return { ...common, type: 'directory' };
  if (st.isSymbolicLink()) return { ...common, type: 'symlink', linkname: readlinkSync(path) };
  if (st.isFile()) return { ...common, type: 'file', size: st.size, source: path };
  if (st.isFIFO()) return { ...common, type: 'fifo' };
  return { ...common, type: 'file', size: 0 }; // sockets and devices of the context: no content to copy
}

function fromIndex(e: IndexEntry, dir: string): LayerEntry | undefined {
  const common = { name: '', mode: e.mode, mtime: new Date(e.mtimeSec * 1000) };
  switch (e.kind) {
    case EntryKind.Dir:
      return { ...common, type: 'directory' };
    case EntryKind.Symlink:
      return { ...common, type: 'symlink', linkname: e.link };
    case EntryKind.File:
    case EntryKind.Hardlink:
      return {
        ...common,
        type: 'file',
        size: e.size,
        source: join(dir, e.kind === EntryKind.Hardlink ? e.link : e.path),
      };
    case EntryKind.Fifo:
      return { ...common, type: 'fifo' };
    default:
      return undefined; // devices and sockets are not copied between stages
  }
}

function finish(e: LayerEntry, name: string, opts: CopyOptions): LayerEntry {
  const mode = opts.chmod !== undefined && e.type !== 'symlink' ? opts.chmod : e.mode;
  return { ...e, name, mode, uid: opts.owner?.uid ?? 0, gid: opts.owner?.gid ?? 0 };
}

/** The cache input of a set of entries: names, types, owners, modes, link targets and contents (not mtimes). */
export async function entriesDigest(entries: LayerEntry[]): Promise<string> {
  const hash = createHash('sha256');
  for (const e of entries) {
    hash.update(JSON.stringify([e.name, e.type, e.mode, e.uid, e.gid, e.linkname ?? '', e.size ?? 0]));
    if (e.source !== undefined) {
      const h = createHash('sha256');
      await pipeline(createReadStream(e.source), h);
      hash.update(h.digest('hex'));
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

/** `--chmod=0755`: octal permission bits. */
export function parseChmod(ins: Instruction, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-7]{3,4}$/.test(value)) throw invalid(ins, `--chmod=${value} is not an octal mode such as 0644`);
  return parseInt(value, 8);
}
