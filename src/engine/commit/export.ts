import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EntryKind, OPAQUE, readLayerIndex, type IndexEntry } from '../../../fuse/layer-index.js';
import { OPAQUE_MARKER, WH_PREFIX } from '../../../fuse/whiteout.js';
import type { HutchPaths } from '../../paths.js';
import { XATTR_ENCODING } from '../../image/pax.js';
import { containerLayer } from './container-layer.js';
import { eachTarEntry, withUpperTar } from './layer-stream.js';

const KIND_TYPES: Partial<Record<EntryKind, tar.Header['type']>> = {
  [EntryKind.File]: 'file',
  [EntryKind.Dir]: 'directory',
  [EntryKind.Symlink]: 'symlink',
  [EntryKind.Char]: 'character-device',
  [EntryKind.Block]: 'block-device',
  [EntryKind.Fifo]: 'fifo',
};

/**
 * `hutch export CONTAINER`: the container's merged filesystem as one tar on `out`: first what its
 * writable layer holds (read as commit reads it), then every entry of the image's merged layers
 * the writable layer neither replaced nor deleted, with the owners and modes of the layers' index.
 */
export async function exportContainer(
  paths: HutchPaths,
  root: string | undefined,
  ref: string,
  out: Writable,
): Promise<void> {
  const { what, base, store, upper, mountpoints, maps } = containerLayer(paths, root, ref, 'export');
  const pack = tar.pack();
  const piped = pipeline(pack, out);
  const hidden = { exact: new Set<string>(), below: [] as string[] };
  await withUpperTar(upper, mountpoints, maps, what, (input) => copyUpper(input, pack, hidden));
  const isHidden = (p: string): boolean => hidden.exact.has(p) || hidden.below.some((d) => p.startsWith(d + '/'));
  const lower = mergedLower(
    base.layers.map((l) => ({ dir: store.layerRoot(l.diffId), index: store.layerIndex(l.diffId) })),
  );
  const emitted = new Set<string>();
  for (const [path, { entry, dir }] of [...lower].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (isHidden(path)) continue;
    await emitLower(pack, entry, dir, emitted);
    emitted.add(path);
  }
  pack.finalize();
  await piped;
}

/** Passes the upper tar's entries on, noting what they hide of the lower layers. */
async function copyUpper(
  input: Readable,
  pack: tar.Pack,
  hidden: { exact: Set<string>; below: string[] },
): Promise<void> {
  await eachTarEntry(input, (header, stream, next) => {
    const path = header.name.replace(/\/$/, '');
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    const dir = slash < 0 ? '' : path.slice(0, slash);
    const skip = (): void => {
      stream.on('end', () => next());
      stream.resume();
    };
    if (name === OPAQUE_MARKER) {
      hidden.below.push(dir);
      return skip();
    }
    if (name.startsWith(WH_PREFIX)) {
      const gone = `${dir === '' ? '' : dir + '/'}${name.slice(WH_PREFIX.length)}`;
      hidden.exact.add(gone);
      hidden.below.push(gone);
      return skip();
    }
    hidden.exact.add(path);
    if (header.type !== 'directory') hidden.below.push(path);
    if (header.type !== 'file') {
      skip();
      void entry(pack, header).catch((error: unknown) => next(error));
      return;
    }
    stream.pipe(pack.entry(header, (error) => next(error ?? undefined)));
  });
}

/** The merged lower tree: each path's topmost entry and its layer's directory (export, squash). */
export function mergedLower(layers: { dir: string; index: string }[]): Map<string, { entry: IndexEntry; dir: string }> {
  const merged = new Map<string, { entry: IndexEntry; dir: string }>();
  const dropBelow = (d: string): void => {
    for (const p of merged.keys()) if (p.startsWith(d + '/')) merged.delete(p);
  };
  for (const layer of layers) {
    for (const e of readLayerIndex(layer.index)) {
      // What a directory held below goes when it is deleted, replaced by a non-directory, or made opaque.
      const wasDir = merged.get(e.path)?.entry.kind === EntryKind.Dir;
      if ((wasDir && e.kind !== EntryKind.Dir) || (e.kind === EntryKind.Dir && (e.flags & OPAQUE) !== 0))
        dropBelow(e.path);
      if (e.kind === EntryKind.Whiteout) merged.delete(e.path);
      else merged.set(e.path, { entry: e, dir: layer.dir });
    }
  }
  return merged;
}

/** Writes one entry of the merged lower tree to `pack`, its file's content read from its layer. */
export async function emitLower(pack: tar.Pack, e: IndexEntry, dir: string, emitted: Set<string>): Promise<void> {
  const pax =
    e.xattrs.size === 0
      ? undefined
      : Object.fromEntries([...e.xattrs].map(([k, v]) => [`SCHILY.xattr.${k}`, v.toString(XATTR_ENCODING)]));
  const head = {
    name: e.kind === EntryKind.Dir ? `${e.path}/` : e.path,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: new Date(e.mtimeSec * 1000),
    pax,
  };
  if (e.kind === EntryKind.Hardlink && emitted.has(e.link))
    return entry(pack, { ...head, type: 'link', linkname: e.link, size: 0 });
  const type = e.kind === EntryKind.Hardlink ? 'file' : KIND_TYPES[e.kind];
  if (type === undefined) return; // a socket
  if (type === 'file') {
    const stream = pack.entry({ ...head, type, size: e.size } as tar.Header);
    await pipeline(createReadStream(join(dir, e.kind === EntryKind.Hardlink ? e.link : e.path)), stream);
    return;
  }
  const device =
    type === 'character-device' || type === 'block-device'
      ? { devmajor: (e.rdev >> 8) & 0xfff, devminor: (e.rdev & 0xff) | ((e.rdev >> 12) & 0xfff00) }
      : {};
  return entry(pack, { ...head, type, size: 0, linkname: type === 'symlink' ? e.link : undefined, ...device });
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry(header as tar.Header, (error) => (error ? reject(error) : resolve())),
  );
}
