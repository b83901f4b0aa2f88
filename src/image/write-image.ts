import { MediaType, sha256, type ImageConfig } from './manifest.js';
import type { ImageRecord, Store } from './store.js';

/** Something staged outside the store's names (a layer, a blob) that `commit` moves into place and `discard` removes. */
export interface Staged {
  commit(): void;
  discard(): void;
}

/** What goes into the store with an image record: staged layers, then small blobs (config, manifest). */
export interface ImageParts {
  staged: Staged[];
  blobs: { digest: string; data: Buffer }[];
}

/**
 * Stores an image all or nothing (pull, load, import, commit, build): the staged layers take
 * their final names, the small blobs are written, then the record. When any of it fails (a full
 * disk at the index, a race), what this added goes again unless an image recorded meanwhile uses
 * it, and what was staged is discarded: the store is left as it was.
 */
export async function recordImage(store: Store, record: ImageRecord, parts: ImageParts): Promise<ImageRecord> {
  const added = {
    blobs: [record.manifest, record.config, ...record.layers.map((l) => l.digest)].filter((d) => !store.hasBlob(d)),
    layers: record.layers.map((l) => l.diffId).filter((d) => !store.hasLayer(d)),
  };
  try {
    for (const s of parts.staged) s.commit();
    for (const b of parts.blobs) store.writeBlob(b.digest, b.data);
    await store.putImage(record);
    return record;
  } catch (error) {
    for (const s of parts.staged) s.discard();
    await store.locked(() => store.dropUnused(added.blobs, added.layers, store.images())).catch(() => undefined);
    throw error;
  }
}

/**
 * Stores a made image (import, commit, build): its config and an OCI manifest as blobs, then the
 * record under `names`. The layers' blobs and unpacked directories must be in the store already
 * or among `staged`, which take their names only with the record (see recordImage).
 */
export async function writeImage(
  store: Store,
  config: ImageConfig,
  layers: ImageRecord['layers'],
  names: string[],
  staged: Staged[] = [],
): Promise<ImageRecord> {
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = sha256(manifest);
  const now = new Date().toISOString();
  const record: ImageRecord = {
    id: configDigest,
    names,
    manifest: manifestDigest,
    config: configDigest,
    layers,
    created: config.created ?? now,
    stored: now,
  };
  return recordImage(store, record, {
    staged,
    blobs: [
      { digest: configDigest, data: configBytes },
      { digest: manifestDigest, data: manifest },
    ],
  });
}
