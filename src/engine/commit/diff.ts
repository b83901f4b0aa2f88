import type { Readable } from 'node:stream';
import { EntryKind, OPAQUE, readLayerIndex } from '../../../fuse/layer-index.js';
import { OPAQUE_MARKER, WH_PREFIX } from '../../../fuse/whiteout.js';
import type { HutchPaths } from '../../paths.js';
import { containerLayer } from './container-layer.js';
import { eachTarEntry, withUpperTar } from './layer-stream.js';

/** One line of `hutch diff`: A(dded), C(hanged) or D(eleted), and the path. */
export interface Change {
  kind: 'A' | 'C' | 'D';
  path: string;
}

/**
 * `hutch diff CONTAINER`: what the container's writable layer changed against its image, as
 * podman lists it: a path the layer has that the image has too is C, one it lacks A, a whiteout D.
 * The layer is read as `hutch commit` reads it (its tar), so both agree on what changed.
 */
export async function diffContainer(paths: HutchPaths, root: string | undefined, ref: string): Promise<Change[]> {
  const { what, base, store, upper, mountpoints, maps } = containerLayer(paths, root, ref, 'diff');
  const lower = lowerPaths(base.layers.map((l) => store.layerIndex(l.diffId)));
  const changes = await withUpperTar(upper, mountpoints, maps, what, (input) => readChanges(input, lower));
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function readChanges(input: Readable, lower: Set<string>): Promise<Change[]> {
  const changes: Change[] = [];
  await eachTarEntry(input, (header, stream, next) => {
    const path = header.name.replace(/\/$/, '');
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    const dir = slash < 0 ? '' : path.slice(0, slash + 1);
    if (name.startsWith(WH_PREFIX) && name !== OPAQUE_MARKER)
      changes.push({ kind: 'D', path: `/${dir}${name.slice(WH_PREFIX.length)}` });
    else if (name !== OPAQUE_MARKER) changes.push({ kind: lower.has(path) ? 'C' : 'A', path: `/${path}` });
    stream.on('end', () => next());
    stream.resume();
  });
  return changes;
}

/** The paths of the image's merged tree (layers bottom-first, whiteouts and opaque dirs applied). */
function lowerPaths(indexFiles: string[]): Set<string> {
  const paths = new Set<string>();
  const dropBelow = (dir: string): void => {
    for (const p of paths) if (p.startsWith(dir + '/')) paths.delete(p);
  };
  for (const file of indexFiles) {
    for (const e of readLayerIndex(file)) {
      if (e.kind === EntryKind.Whiteout) {
        if (paths.delete(e.path)) dropBelow(e.path);
        continue;
      }
      if (e.kind === EntryKind.Dir && (e.flags & OPAQUE) !== 0) dropBelow(e.path);
      paths.add(e.path);
    }
  }
  return paths;
}
