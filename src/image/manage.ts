import { StoreError } from '../errors.js';
import { formatReference, parseReference } from './ref.js';
import { refuseReadOnly } from './additional.js';
import { findInStores, getImage, namesFor, readConfig } from './resolve.js';
import { Store, type ImageRecord } from './store.js';

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/**
 * `hutch rmi`: a name of an image with other names is untagged; otherwise the image goes, with
 * its blobs and layers no other image shares. An image a container uses is refused unless `force`.
 */
export async function removeImages(root: string | undefined, refs: string[], force: boolean): Promise<RemoveResult> {
  const store = new Store(root);
  return store.locked(() => {
    let images = store.images();
    const result: RemoveResult = { untagged: [], deleted: [] };
    const removed: ImageRecord[] = [];
    for (const ref of refs) {
      refuseReadOnly(root, ref, 'remove');
      const image = getImage(store, ref, images);
      const wanted = namesFor(ref);
      const byName = image.names.find((n) => wanted.has(n));
      if (byName !== undefined && image.names.length > 1 && !force) {
        image.names = image.names.filter((n) => n !== byName);
        result.untagged.push(byName);
        continue;
      }
      const users = store.usersOf(image.id);
      if (users.length > 0 && !force) {
        throw new StoreError('IMAGE_IN_USE', `cannot remove image ${ref}: containers use it (${users.join(', ')})`, {
          hint: 'remove the containers first, or pass -f',
        });
      }
      result.untagged.push(...image.names);
      result.deleted.push(image.id);
      removed.push(image);
      images = images.filter((i) => i !== image);
    }
    store.saveImages(images);
    store.collect(removed, images);
    return result;
  });
}

/** `hutch image prune`: images without a name (all unused ones with `all`) that no container uses. */
export async function pruneImages(root: string | undefined, all: boolean): Promise<string[]> {
  const store = new Store(root);
  return store.locked(() => {
    const images = store.images();
    const doomed = images.filter((i) => (all || i.names.length === 0) && store.usersOf(i.id).length === 0);
    const kept = images.filter((i) => !doomed.includes(i));
    store.saveImages(kept);
    store.collect(doomed, kept);
    return doomed.map((i) => i.id);
  });
}

/** `hutch tag SOURCE TARGET...`: adds names, taking them from any image that had them. */
export async function tagImage(root: string | undefined, source: string, targets: string[]): Promise<void> {
  const store = new Store(root);
  const names = targets.map((t) => formatReference(parseReference(t, 'localhost')));
  refuseReadOnly(root, source, 'tag');
  await store.locked(() => {
    const images = store.images();
    const image = getImage(store, source, images);
    for (const other of images) other.names = other.names.filter((n) => !names.includes(n));
    image.names = [...new Set([...image.names, ...names])];
    store.saveImages(images);
  });
}

/** What `hutch image inspect` prints for one image (podman's field names). */
export function inspectImage(root: string | undefined, ref: string): Record<string, unknown> {
  const found = findInStores(root, ref);
  const store = found?.store ?? new Store(root);
  const image = found?.image ?? getImage(store, ref);
  const config = readConfig(store, image);
  return {
    Id: image.id.slice(7),
    Digest: image.manifest,
    RepoTags: image.names,
    Created: image.created,
    Architecture: config.architecture,
    Os: config.os,
    Config: config.config ?? {},
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Size: imageSize(image),
    Layers: image.layers.map((l) => ({
      DiffID: l.diffId,
      Digest: l.digest,
      MediaType: l.mediaType,
      Size: l.size,
      Dir: store.layerRoot(l.diffId),
      Index: store.layerIndex(l.diffId),
    })),
    History: config.history ?? [],
  };
}

/** The compressed size of an image (its layer blobs), as registries report it. */
export function imageSize(image: ImageRecord): number {
  return image.layers.reduce((sum, l) => sum + l.size, 0);
}
