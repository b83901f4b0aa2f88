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
 */
export function materializeRootfs(image: Pick<ResolvedImage, 'layers'>, dest: string): void {
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  for (const layer of image.layers) {
    const entries = readLayerIndex(layer.indexFile);
    for (const e of entries) {
      if (e.kind === EntryKind.Whiteout) rmSync(join(dest, e.path), { recursive: true, force: true });
      else if (e.kind === EntryKind.Dir && (e.flags & OPAQUE) !== 0) clearDir(join(dest, e.path));
    }
    copyLayer(layer.dir, entries, dest);
  }
}

function copyLayer(src: string, entries: IndexEntry[], dest: string): void {
  const dirs: IndexEntry[] = [];
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
      copySparse(join(src, e.path), to);
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
