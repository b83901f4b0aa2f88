import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../../errors.js';
import { compressToFile, type Compression } from '../compress.js';
import { MediaType } from '../manifest.js';
import type { ImageRecord, Store } from '../store.js';
import { decompressors } from '../unpack.js';

/** A blob as it will be pushed: a file, its digest, size and media type. */
export interface PushBlob {
  file: string;
  digest: string;
  size: number;
  mediaType: string;
  /** Whether the stored blob went as it is (else it was recompressed into `file`). */
  reused: boolean;
}

/**
 * The layer blob to push in `compression`: the stored blob when it is compressed so already, else
 * the layer decompressed and compressed again (plain tar layers of an import or a docker-archive,
 * gzip layers asked for as zstd) into a file under `tempDir`.
 */
export async function layerBlob(
  store: Store,
  layer: ImageRecord['layers'][number],
  compression: Compression,
  tempDir: string,
): Promise<PushBlob> {
  const file = store.blobPath(layer.digest);
  const mediaType = compression === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayerZstd;
  if (sniff(file) === compression)
    return { file, digest: layer.digest, size: statSync(file).size, mediaType, reused: true };
  const out = join(tempDir, layer.digest.slice(7));
  const input = createReadStream(file);
  const blob = await compressToFile(input, await decompressors(input, layer.digest), compression, out);
  return { file: out, ...blob, mediaType, reused: false };
}

/** The compression of a blob from its first bytes. */
function sniff(file: string): Compression | 'none' {
  const head = Buffer.alloc(4);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new StoreError('STORE_BLOB_MISSING', `blob ${file} is missing from the store`, {
      hint: 'pull the image again',
      cause: error,
    });
  }
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}
