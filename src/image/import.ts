import { closeSync, createReadStream, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { hostPlatform, MediaType } from './manifest.js';
import { formatReference, parseReference } from './ref.js';
import { Store, type ImageRecord } from './store.js';
import { stageLayer } from './unpack.js';
import { writeImage, type Staged } from './write-image.js';

/**
 * `hutch import FILE [NAME]` (podman import): a root filesystem tarball (plain, gzip or zstd)
 * becomes a one-layer image. The tarball is stored as the layer blob and unpacked in one pass.
 */
export async function importRootfs(
  root: string | undefined,
  file: string,
  name: string | undefined,
  env: string[] = [],
): Promise<ImageRecord> {
  const store = new Store(root);
  const names = name === undefined ? [] : [formatReference(parseReference(name, 'localhost'))];
  const input: Readable = file === '-' ? process.stdin : createReadStream(file);
  const tempDir = store.tempDir('import');
  const temp = join(tempDir, 'blob');
  const fd = openSync(temp, 'wx', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer | undefined;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      head ??= chunk.subarray(0, 4);
      hash.update(chunk);
      writeSync(fd, chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    input.on('error', (e) =>
      tee.destroy(new UsageError('IMPORT_READ', `cannot read ${file}: ${e.message}`, { hint: 'check the file name' })),
    );
    const layer = await stageLayer(store, input.pipe(tee), undefined, `import of ${file}`);
    closeSync(fd);
    const digest = `sha256:${hash.digest('hex')}`;
    // The blob and the layer take their names with the record, or neither does (recordImage).
    const blob = { commit: () => store.adoptBlob(digest, temp), discard: () => undefined };
    const l = { digest, size, diffId: layer.diffId, mediaType: layerType(head), env };
    return await storeImported(store, names, l, [layer, blob]);
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    rmSync(tempDir, { recursive: true, force: true });
  }
}

async function storeImported(
  store: Store,
  names: string[],
  l: { digest: string; size: number; diffId: string; mediaType: string; env: string[] },
  staged: Staged[],
): Promise<ImageRecord> {
  const created = new Date().toISOString();
  const platform = hostPlatform();
  const config = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...l.env] },
    rootfs: { type: 'layers', diff_ids: [l.diffId] },
    history: [{ created, created_by: 'hutch import' }],
  };
  return writeImage(
    store,
    config,
    [{ diffId: l.diffId, digest: l.digest, mediaType: l.mediaType, size: l.size }],
    names,
    staged,
  );
}

function layerType(head: Buffer | undefined): string {
  if (head !== undefined && head[0] === 0x1f && head[1] === 0x8b) return MediaType.ociLayerGzip;
  if (head !== undefined && head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return MediaType.ociLayerZstd;
  return MediaType.ociLayer;
}
