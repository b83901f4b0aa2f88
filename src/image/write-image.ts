import { MediaType, sha256, type ImageConfig } from './manifest.js';
import type { ImageRecord, Store } from './store.js';

/**
 * Stores a made image (import, commit, build): its config and an OCI manifest as blobs, then the
 * record under `names`. The layers' blobs and unpacked directories must be in the store already.
 */
export async function writeImage(
  store: Store,
  config: ImageConfig,
  layers: ImageRecord['layers'],
  names: string[],
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
  store.writeBlob(configDigest, configBytes);
  store.writeBlob(manifestDigest, manifest);
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
  await store.putImage(record);
  return record;
}
