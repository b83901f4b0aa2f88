import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StoreError } from '../errors.js';
import { decompressors } from '../image/unpack.js';
import { cleanPath } from './image-tree.js';
import { addEntry, type LayerEntry } from './layer.js';

/** Whether a context file is a tar archive ADD unpacks: plain tar, gzip or zstd (by its first bytes). */
export function isArchive(path: string): boolean {
  const head = Buffer.alloc(512);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, 512, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (n >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true;
  return n >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

/**
 * Writes the entries of a local tar archive under `dest` (a directory path of the image) onto
 * `pack`: names and hard-link targets are made relative to `dest`, and one that climbs out of
 * it (`../`) is refused. Owners are the archive's unless `owner` is given.
 */
export async function packArchive(
  pack: tar.Pack,
  file: string,
  dest: string,
  owner: { uid: number; gid: number } | undefined,
  where: string,
): Promise<void> {
  const input = createReadStream(file);
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    void repack(pack, header, stream as unknown as Readable, dest, owner, file).then(
      () => next(),
      (error: unknown) => extract.destroy(error as Error),
    );
  });
  await pipeline([input, ...(await decompressors(input, where)), extract]);
}

async function repack(
  pack: tar.Pack,
  header: tar.Header,
  stream: Readable,
  dest: string,
  owner: { uid: number; gid: number } | undefined,
  file: string,
): Promise<void> {
  const name = inside(dest, header.name, file);
  const type = header.type ?? 'file';
  if (name === '') {
    stream.resume(); // the root itself keeps its metadata
    return new Promise((done) => stream.on('end', done));
  }
  const entry: LayerEntry = {
    ...header,
    name,
    type,
    uid: owner?.uid ?? header.uid,
    gid: owner?.gid ?? header.gid,
    ...(type === 'link' ? { linkname: inside(dest, header.linkname ?? '', file) } : {}),
  };
  if (type === 'file' || type === 'contiguous-file') {
    await pipeline(stream, pack.entry({ ...entry, type: 'file', name } as tar.Header));
    return;
  }
  stream.resume();
  if (!['directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'].includes(type)) return;
  await addEntry(pack, entry);
}

function inside(dest: string, name: string, file: string): string {
  const normal = posix.normalize(name.replace(/^\/+/, ''));
  if (normal === '..' || normal.startsWith('../'))
    throw new StoreError(
      'ARCHIVE_HOSTILE',
      `cannot add ${file}: its entry ${JSON.stringify(name)} points outside the archive`,
      {
        hint: 'use an archive whose entries stay below its top (no ../ in names or hard links)',
      },
    );
  return cleanPath(posix.join(dest, normal));
}
