import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EntryKind, OPAQUE, readLayerIndex, type IndexEntry } from '../../fuse/layer-index.js';
import { copySparse } from '../sys/sparse-copy.js';
import type { ResolvedImage } from './resolve.js';

/**
 * Builds a plain copy of the image's root filesystem in `dest` (the `--storage-driver=vfs` path,
 * for hosts without FUSE): layers bottom-first, whiteouts deleting, opaque directories hiding
 * what lower layers put there. Files belong to the user; modes are applied with owner rw kept.
 * Devices, FIFOs and sockets become empty placeholder files: an unprivileged user cannot mknod.
 * With `under` (an image path without leading slash), only that directory's content: a named
 * volume filled from the image on its first mount.
 */
export function materializeRootfs(image: Pick<ResolvedImage, 'layers'>, dest: string, under = ''): void {
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  for (const layer of image.layers) {
    const all = readLayerIndex(layer.indexFile);
    // A deleted or opaque parent of `under` hides what lower layers put below it.
    if (all.some((e) => under.startsWith(e.path + '/') && (e.kind === EntryKind.Whiteout || (e.flags & OPAQUE) !== 0)))
      clearDir(dest);
    const entries: CopyEntry[] = under === '' ? all : all.flatMap((e) => rebase(e, under));
    for (const e of entries) {
      if (e.kind === EntryKind.Whiteout) {
        if (e.path === '') clearDir(dest);
        else rmSync(join(dest, e.path), { recursive: true, force: true });
      } else if (e.kind === EntryKind.Dir && (e.flags & OPAQUE) !== 0) clearDir(join(dest, e.path));
    }
    copyLayer(layer.dir, entries, dest);
  }
}

/**
 * An entry of the subtree at `under` (an image path without leading slash), its path relative to
 * it and its file's path in the layer as `source`; a hard link to a file outside the subtree
 * becomes a copy of that file.
 */
function rebase(e: IndexEntry, under: string): CopyEntry[] {
  const inside = (p: string): boolean => p === under || p.startsWith(under + '/');
  // `under` itself only as a directory: a file there cannot fill a volume's directory.
  if (!inside(e.path) || (e.path === under && e.kind !== EntryKind.Dir && e.kind !== EntryKind.Whiteout)) return [];
  const path = e.path.slice(under.length + 1);
  if (e.kind !== EntryKind.Hardlink) return [{ ...e, path, source: e.path }];
  if (inside(e.link)) return [{ ...e, path, link: e.link.slice(under.length + 1) }];
  return [{ ...e, path, kind: EntryKind.File, source: e.link }];
}

/** An index entry whose file may sit at another path of its layer (`source`). */
type CopyEntry = IndexEntry & { source?: string };

function copyLayer(src: string, entries: CopyEntry[], dest: string): void {
  const dirs: CopyEntry[] = [];
  for (const e of entries) {
    const to = join(dest, e.path);
    if (e.kind === EntryKind.Whiteout) continue;
    mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
    if (e.kind === EntryKind.Dir) {
      if (!isDir(to)) {
        rmSync(to, { force: true });
        mkdirSync(to, { mode: 0o700 });
      }
      dirs.push(e);
      continue;
    }
    rmSync(to, { recursive: true, force: true });
    if (e.kind === EntryKind.File) {
      copySparse(join(src, e.source ?? e.path), to);
      chmodSync(to, e.mode | 0o600);
    } else if (e.kind === EntryKind.Symlink) symlinkSync(e.link, to);
    else if (e.kind === EntryKind.Hardlink) linkSync(join(dest, e.link), to);
    else writeFileSync(to, '', { mode: 0o600 });
  }
  for (const e of dirs) chmodSync(join(dest, e.path), (e.mode & 0o7777) | 0o700);
}

function clearDir(dir: string): void {
  if (!isDir(dir)) return;
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}
