import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import tar from 'tar-stream';
import { SQUASH_CONFIG_PATH, writeSquashfs } from '../../image/squashfs.js';
import { describeImage } from '../../image/resolve.js';
import { getImage } from '../../image/resolve.js';
import { Store } from '../../image/store.js';
import { emitLower, mergedLower } from './export.js';

/**
 * `hutch squash IMAGE -o FILE`: the image's layers merged into one tree (as export merges them,
 * owners and modes from the layers' index) and written as a squashfs, with the image config at
 * /.hutch/config.json so that the file alone runs (`hutch run FILE`). The file appears whole or
 * not at all: mksquashfs writes a temporary name beside it.
 */
export async function squashImage(root: string | undefined, ref: string, output: string): Promise<void> {
  const store = new Store(root);
  const record = getImage(store, ref);
  const image = describeImage(store, record);
  const pack = tar.pack();
  const target = resolve(output);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  const written = writeSquashfs(pack, temp, { mode: 0o755, uid: 0, gid: 0 });
  try {
    await Promise.all([written, packImage(pack, image, store)]);
    renameSync(temp, target);
  } catch (error) {
    pack.destroy();
    await written.catch(() => undefined);
    rmSync(temp, { force: true });
    throw error;
  }
}

/** The merged tree, then the config (replacing any /.hutch the image itself had). */
async function packImage(pack: tar.Pack, image: ReturnType<typeof describeImage>, store: Store): Promise<void> {
  const lower = mergedLower(
    image.layers.map((l) => ({ dir: store.layerRoot(l.diffId), index: store.layerIndex(l.diffId) })),
  );
  const ours = (p: string): boolean => p === '.hutch' || p.startsWith('.hutch/');
  const emitted = new Set<string>();
  for (const [path, { entry, dir }] of [...lower].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (ours(path)) continue;
    await emitLower(pack, entry, dir, emitted);
    emitted.add(path);
  }
  const config = Buffer.from(JSON.stringify(image.config) + '\n');
  const now = new Date();
  pack.entry({ name: '.hutch/', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: now });
  pack.entry(
    { name: SQUASH_CONFIG_PATH, type: 'file', mode: 0o644, uid: 0, gid: 0, size: config.length, mtime: now },
    config,
  );
  pack.finalize();
}
