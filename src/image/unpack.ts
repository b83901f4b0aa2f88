import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Duplex, PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type * as Execa from 'execa';
import tar from 'tar-stream';

import { encodeLayerIndex } from '../../fuse/layer-index.js';
import { HutchError, StoreError, describeCause } from '../errors.js';
import { LayerWriter } from './layer-writer.js';
import { noSpace, type Store } from './store.js';

/** A layer unpacked in a temporary directory: `commit` renames it into place, `discard` removes it. */
export interface StagedLayer {
  diffId: string;
  commit(): void;
  discard(): void;
}

/**
 * Unpacks one layer (plain, gzip or zstd tar; detected from its first bytes) as `diffId` (or
 * whatever it hashes to when undefined, for imports and commits): files under root/, the
 * metadata index beside them, in a temporary directory of the store. `commit` renames it into
 * place as layers/sha256/<hex> (the caller does once the image can be recorded: all its layers
 * or none), so a failure or a kill at any moment leaves no layer under that name.
 */
export async function stageLayer(
  store: Store,
  input: Readable,
  diffId: string | undefined,
  where: string,
): Promise<StagedLayer> {
  const temp = store.tempDir('layer');
  const root = join(temp, 'root');
  const writer = new LayerWriter(root, where, freeBytes(temp));
  try {
    mkdirSync(root, { mode: 0o755 });
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => feed(writer, header, stream as unknown as Readable, next, extract));
    const stages = [input, ...(await decompressors(input, where)), tap, extract];
    // pipeline stops listening once it settles; a stage failing later must not crash the process.
    for (const stage of stages) stage.on('error', () => undefined);
    await pipeline(stages);
    const actual = `sha256:${hash.digest('hex')}`;
    if (diffId !== undefined && actual !== diffId) {
      throw new StoreError(
        'LAYER_DIGEST_MISMATCH',
        `layer ${where} unpacks to ${actual}, but the image config says ${diffId}`,
        {
          hint: 'the image is corrupt or was tampered with; nothing of it was stored',
        },
      );
    }
    writeIndex(join(temp, 'index.hli'), encodeLayerIndex(writer.finish()));
    return {
      diffId: actual,
      commit: () => commit(temp, store.layerDir(actual)),
      discard: () => rmSync(temp, { recursive: true, force: true }),
    };
  } catch (error) {
    writer.abort();
    rmSync(temp, { recursive: true, force: true });
    input.destroy();
    throw asUnpackError(error, where);
  }
}

/** The stages that turn `input` into tar bytes: gunzip, zstd, or none (sniffed, not trusted from media types). */
export async function decompressors(input: Readable, where: string): Promise<Duplex[]> {
  const head = await sniff(input);
  if (head[0] === 0x1f && head[1] === 0x8b) return [createGunzip()];
  if (head.readUInt32LE(0) === 0xfd2fb528) return [zstd(where, await import('execa'))];
  return [];
}

function feed(
  writer: LayerWriter,
  header: tar.Header,
  stream: Readable,
  next: (error?: Error | null) => void,
  extract: tar.Extract,
): void {
  stream.on('error', () => undefined); // extract's own failure is re-emitted here; pipeline reports it
  const fail = (error: unknown): void => void extract.destroy(error as Error);
  writer.begin(header).then((wantsData) => {
    if (!wantsData) {
      stream.on('end', () => next()).resume();
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      try {
        writer.write(chunk);
      } catch (error) {
        fail(error);
      }
    });
    stream.on('end', () => {
      try {
        writer.endFile();
        next();
      } catch (error) {
        fail(error);
      }
    });
  }, fail);
}

/** Debian's zstd binary: Node 20's zlib has no zstd, and the binary is fast and maintained. */
function zstd(where: string, { execa }: typeof Execa): Duplex {
  const child = execa('zstd', ['-d', '-c', '-q'], { buffer: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  const out = new PassThrough();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => undefined); // EPIPE when zstd quits early; its exit status reports why
  // The output ends only when zstd exits 0: a truncated input must fail here, not look complete.
  child.stdout!.pipe(out, { end: false });
  child.then(
    () => out.end(),
    (error: unknown) => {
      const why = stderr.trim().split('\n').pop() || describeCause(error);
      out.destroy(
        new StoreError('LAYER_CORRUPT', `cannot decompress zstd layer ${where}: ${why}`, {
          hint: 'the layer blob is damaged; pull again',
        }),
      );
    },
  );
  out.on('close', () => child.kill());
  return Duplex.from({ writable: child.stdin!, readable: out });
}

/** Reads the first bytes of `input` and pushes them back. */
async function sniff(input: Readable): Promise<Buffer> {
  for (;;) {
    const chunk = input.read() as Buffer | null;
    if (chunk !== null) {
      input.unshift(chunk);
      return chunk.length >= 4 ? chunk : Buffer.concat([chunk, Buffer.alloc(4)]);
    }
    if (input.readableEnded || input.destroyed) return Buffer.alloc(4);
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        input.off('readable', done).off('end', done).off('error', fail);
        resolve();
      };
      const fail = (error: Error): void => {
        input.off('readable', done).off('end', done);
        reject(error);
      };
      input.once('readable', done).once('end', done).once('error', fail);
    });
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  // A filesystem that counts no blocks at all (ramfs, some FUSE and network ones) says nothing of its room.
  return s.blocks === 0 ? Number.MAX_SAFE_INTEGER : s.bavail * s.bsize;
}

function writeIndex(file: string, data: Buffer): void {
  const fd = openSync(file, 'w', 0o644);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Renames the finished layer into place; another pull that got there first wins. */
function commit(temp: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    renameSync(temp, dest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    rmSync(temp, { recursive: true, force: true });
  }
}

function asUnpackError(error: unknown, where: string): HutchError {
  if (error instanceof HutchError) return error;
  const full = noSpace(error, `cannot unpack layer ${where}: the disk is full`);
  if (full instanceof HutchError) return full;
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'Z_BUF_ERROR' ? 'the compressed stream is truncated' : describeCause(error);
  return new StoreError('LAYER_CORRUPT', `cannot unpack layer ${where}: ${why}`, {
    cause: error,
    hint: 'the layer is damaged or not a tar archive; nothing of it was stored',
  });
}
