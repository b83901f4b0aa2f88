import { closeSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { launchInUserNamespace } from '../launch/index.js';
import { StoreError } from '../../errors.js';
import type { IdMapping } from '../../runtime/spec.js';
import { entryCommand } from '../../sys/entry-points.js';
import { pipe } from '../../sys/pipe.js';
import tar from 'tar-stream';
import { compressToFile } from '../../image/compress.js';
import { MediaType } from '../../image/manifest.js';
import type { ImageRecord, Store } from '../../image/store.js';
import { stageLayer } from '../../image/unpack.js';
import type { Staged } from '../../image/write-image.js';

/**
 * Makes a new layer of the store from a container's upper directory: the tar is written by
 * upper-main.ts as root of a user namespace with the container's id maps, gzip-compressed into a
 * blob and unpacked in the same pass. The layer is staged only when the reader exited 0 (else
 * nothing of it stays); it takes its name in the store with its image's record (writeImage).
 */
export async function layerFromUpper(
  store: Store,
  upper: string,
  mountpoints: string[],
  maps: UpperMaps,
  where: string,
): Promise<StagedTar> {
  let stored: StagedTar | undefined;
  try {
    await withUpperTar(upper, mountpoints, maps, where, async (input) => {
      stored = await storeTar(store, input, where);
    });
  } catch (error) {
    stored?.discard();
    throw error;
  }
  return stored!;
}

/** A new layer, blob and unpacked directory, staged until `commit`. */
export type StagedTar = Staged & { layer: ImageRecord['layers'][number] };

type UpperMaps = { uidMappings: IdMapping[]; gidMappings: IdMapping[] };

/** Runs `consume` on the upper layer's tar; fails when the reader did not write it whole. */
export async function withUpperTar<T>(
  upper: string,
  mountpoints: string[],
  maps: UpperMaps,
  where: string,
  consume: (tar: Readable) => Promise<T>,
): Promise<T> {
  const reader = await readUpper(upper, mountpoints, maps);
  let result: T;
  try {
    result = await consume(reader.tar);
  } catch (error) {
    await reader.abort();
    throw error;
  }
  const exitCode = await reader.exitCode();
  if (exitCode !== 0)
    throw new StoreError(
      'COMMIT_READ',
      `cannot read the writable layer of ${where}: its reader exited with status ${exitCode}`,
      { hint: 'see the message above; nothing was stored' },
    );
  return result;
}

/** Feeds each entry of a tar stream to `onEntry`, which must consume or resume the entry's stream. */
export function eachTarEntry(
  input: Readable,
  onEntry: (header: tar.Header, stream: Readable, next: (error?: unknown) => void) => void,
): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) =>
    onEntry(header, stream as unknown as Readable, (error) => (error ? extract.destroy(error as Error) : next())),
  );
  return new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    input.on('error', reject);
    input.pipe(extract);
  });
}

/**
 * Starts upper-main.ts as root of a user namespace with the container's maps; `tar` is the layer
 * tar it writes. Its exit status says whether the tar is whole (0) or not.
 */
export async function readUpper(
  upper: string,
  mountpoints: string[],
  maps: UpperMaps,
): Promise<{ tar: Readable; exitCode(): Promise<number>; abort(): Promise<void> }> {
  const out = pipe();
  let reader;
  try {
    reader = await launchInUserNamespace(
      { args: [process.execPath, ...entryCommand('upperReader'), 'tar', upper, ...mountpoints], cwd: '/', ...maps },
      { stdio: ['ignore', out.write, 'inherit'] },
    );
  } catch (error) {
    closeSync(out.read);
    throw error;
  } finally {
    closeSync(out.write); // ours closed: the stream ends when the reader's end closes
  }
  const started = reader;
  return {
    tar: new Socket({ fd: out.read, readable: true, writable: false }),
    exitCode: async () => (await started.wait()).exitCode,
    abort: async () => {
      started.kill('SIGKILL');
      await started.wait();
    },
  };
}

/** A tar stream as a gzip blob plus its unpacked layer, staged until `commit`. */
export async function storeTar(store: Store, input: Readable, where: string): Promise<StagedTar> {
  const temp = store.tempDir('commit');
  const blob = join(temp, 'blob');
  const toUnpack = new PassThrough();
  const toGzip = new PassThrough();
  input.pipe(toUnpack);
  input.pipe(toGzip);
  try {
    const [staged, { digest, size }] = await Promise.all([
      stageLayer(store, toUnpack, undefined, where),
      compressToFile(toGzip, [], 'gzip', blob),
    ]);
    return {
      layer: { diffId: staged.diffId, digest, size, mediaType: MediaType.ociLayerGzip },
      commit: () => {
        staged.commit();
        if (!store.hasBlob(digest)) store.adoptBlob(digest, blob);
        rmSync(temp, { recursive: true, force: true });
      },
      discard: () => {
        staged.discard();
        rmSync(temp, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
