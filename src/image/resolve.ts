import { accessSync, constants } from 'node:fs';
import { StoreError } from '../errors.js';
import { parseConfig, type ImageConfig } from './manifest.js';
import { formatReference, looksLikeId, parseReference } from './ref.js';
import { candidates } from './short-names.js';
import { additionalStores, Store, hex, type ImageRecord } from './store.js';

/** An image ready to run: what the engine and the union filesystem need. */
export interface ResolvedImage {
  /** `sha256:<config digest>`. */
  id: string;
  names: string[];
  /** The OCI image config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Volumes under `.config`). */
  config: ImageConfig;
  /** Bottom-first: unpacked files under `dir`, the HLI1 metadata index in `indexFile`. */
  layers: { diffId: string; dir: string; indexFile: string }[];
}

export interface ResolveOptions {
  root?: string;
  /** `missing` (default) pulls when the store lacks the image; `never` fails; `always` pulls. */
  pull?: 'always' | 'missing' | 'never';
  platform?: string;
  quiet?: boolean;
  tlsVerify?: boolean;
}

/**
 * Finds `reference` in the user's store, then the read-only ones (by name, short name or id prefix), pulling it per `pull`, and
 * returns its config and layers. The engine calls this for `hutch run IMAGE`.
 */
export async function resolveImage(reference: string, options: ResolveOptions = {}): Promise<ResolvedImage> {
  const policy = options.pull ?? 'missing';
  const found = policy === 'always' ? undefined : findInStores(options.root, reference);
  if (found !== undefined) return describeImage(found.store, found.image);
  if (policy === 'never') {
    throw new StoreError('IMAGE_NOT_IN_STORE', `image ${reference} is not in the store`, {
      hint: `pull it first (hutch pull ${reference}) or drop --pull=never`,
    });
  }
  // Loaded on use: the registry client and the layer unpacker (tar-stream, zlib) cost a run of a stored image ~20 ms.
  const { pullImage } = await import('./pull.js');
  return describeImage(new Store(options.root), await pullImage(reference, options));
}

/** An image and the store it lives in. */
export interface StoredImage {
  store: Store;
  image: ImageRecord;
}

/** `text` in the user's store, else in the first read-only store that has it (store.ts additionalStores). */
export function findInStores(root: string | undefined, text: string): StoredImage | undefined {
  for (const store of [new Store(root), ...additionalStores()]) {
    const image = findImage(store, text);
    if (image !== undefined) return { store, image };
  }
  return undefined;
}

/** The ResolvedImage of a stored image. */
export function describeImage(store: Store, image: ImageRecord): ResolvedImage {
  if (store.readOnly) for (const l of image.layers) readable(store, l.diffId);
  return {
    id: image.id,
    names: image.names,
    config: readConfig(store, image),
    layers: image.layers.map((l) => ({
      diffId: l.diffId,
      dir: store.layerRoot(l.diffId),
      indexFile: store.layerIndex(l.diffId),
    })),
  };
}

/** Another user's store: its owner must have let everyone read a layer (else the container would see EACCES). */
function readable(store: Store, diffId: string): void {
  try {
    accessSync(store.layerRoot(diffId), constants.R_OK | constants.X_OK);
    accessSync(store.layerIndex(diffId), constants.R_OK);
  } catch (error) {
    throw new StoreError('STORE_UNREADABLE', `cannot read layer ${diffId} of the read-only image store ${store.dir}`, {
      cause: error,
      hint: `its owner makes it readable: chmod -R a+rX ${store.dir}`,
    });
  }
}

/** Parses the stored config of an image. */
export function readConfig(store: Store, image: ImageRecord): ImageConfig {
  return parseConfig(store.readBlob(image.config), image.id, image.layers.length);
}

/** Looks an image up by id (or unique id prefix), full name, or short name as `hutch run` would. */
export function findImage(store: Store, text: string, images: ImageRecord[] = store.images()): ImageRecord | undefined {
  // A name wins over an id prefix (an image may be called `abc` or `cafe`), as in docker.
  const names = namesFor(text);
  const named = images.find((i) => i.names.some((n) => names.has(n)));
  if (named !== undefined) return named;
  if (looksLikeId(text)) {
    const prefix = hex(text);
    const matches = images.filter((i) => hex(i.id).startsWith(prefix));
    if (matches.length === 1) return matches[0];
    if (matches.length > 1)
      throw new StoreError('IMAGE_ID_AMBIGUOUS', `image id prefix ${text} matches ${matches.length} images`, {
        hint: 'give more characters of the id',
      });
  }
  return undefined;
}

/** The stored names `text` may mean: docker.io's, each search registry's, localhost's. */
export function namesFor(text: string): Set<string> {
  const names = new Set<string>();
  try {
    for (const ref of candidates(text)) names.add(formatReference(ref));
    names.add(formatReference(parseReference(text, 'localhost')));
  } catch {
    // not a valid reference: no name matches
  }
  return names;
}

/** Like findImage but fails with a clear error. */
export function getImage(store: Store, text: string, images?: ImageRecord[]): ImageRecord {
  const image = findImage(store, text, images);
  if (image === undefined)
    throw new StoreError('IMAGE_NOT_IN_STORE', `image ${text} is not in the store`, {
      hint: 'list images with `hutch images`',
    });
  return image;
}
