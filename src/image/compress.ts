import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd';

/**
 * Compresses a tar stream (after `stages`, e.g. a decompressor) into a blob file, hashing and
 * counting what is written: the one layer compressor of commit and push. Returns the blob's
 * digest and size.
 */
export async function compressToFile(
  input: Readable,
  stages: Duplex[],
  compression: Compression,
  file: string,
): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const compressor = compression === 'gzip' ? createGzip() : await zstdCompressor();
  await pipeline([input, ...stages, compressor, count, createWriteStream(file)] as [
    NodeJS.ReadableStream,
    ...Duplex[],
    NodeJS.WritableStream,
  ]);
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Debian's zstd binary (Node 20's zlib has no zstd), level 3 as podman uses. */
async function zstdCompressor(): Promise<Duplex> {
  const { execa } = await import('execa');
  const child = execa('zstd', ['-c', '-q', '-3'], { buffer: false, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
  return child.duplex();
}
